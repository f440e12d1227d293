//! alloc_core: see its issue; being built.
#![no_std]

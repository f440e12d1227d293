//! reactor: see its issue; being built.
#![no_std]

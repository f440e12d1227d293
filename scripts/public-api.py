#!/usr/bin/env python3
"""The public API of the library crates as a plain, sorted listing, checked against api/CRATE.txt.

    scripts/public-api.py            # compare every crate with api/CRATE.txt (CI); exit 1 on a diff
    scripts/public-api.py --bless    # rewrite api/CRATE.txt from the current tree
    scripts/public-api.py -p reactor # one crate (repeatable); --print writes the listing to stdout

The listing comes from rustdoc's JSON output, built on the stable toolchain with
RUSTC_BOOTSTRAP=1 (the JSON format is unstable; its version is checked below) and
--all-features. One line per public item at every path a user can name it by (re-exports
included), with its signature: modules, functions and methods, structs with their public
fields, enums with their variants, traits with their items, constants, statics, type aliases,
macros, and the trait impls of each type (auto traits: only Send and Sync; blanket impls
left out). A difference is not an error in itself: it is a change of the API, to be made on
purpose and checked in with --bless.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

CRATES = ["rawsys", "alloc-core", "isolate", "reactor"]
FORMAT_VERSIONS = range(50, 70)  # rustdoc JSON versions this printer was written against (57)
ROOT = Path(__file__).resolve().parent.parent


def build_json(crate):
    env = dict(os.environ, RUSTC_BOOTSTRAP="1")
    env.pop("RUSTDOCFLAGS", None)
    subprocess.run(
        ["cargo", "rustdoc", "-q", "-p", crate, "--all-features", "--",
         "-Z", "unstable-options", "--output-format", "json"],
        cwd=ROOT, env=env, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    with open(target / "doc" / (crate.replace("-", "_") + ".json")) as f:
        return json.load(f)


class Printer:
    def __init__(self, doc):
        self.doc = doc
        self.index = doc["index"]
        if doc["format_version"] not in FORMAT_VERSIONS:
            sys.exit(f"rustdoc JSON format {doc['format_version']} is new to "
                     f"scripts/public-api.py: check its output and widen FORMAT_VERSIONS")
        self.lines = set()
        self.seen = set()

    def item(self, id_):
        return self.index.get(str(id_))

    # ---- types -------------------------------------------------------------------------
    def path_name(self, p):
        # This crate's items by name (each is listed with its full path); other crates' items
        # with a path (`std::os::fd::OwnedFd` is not `rawsys::OwnedFd`): as the source writes
        # it when that is a path, else as CRATE::Name (the defining path is often private to
        # std, e.g. core::iter::traits::collect, and moves between toolchains).
        known = self.doc["paths"].get(str(p.get("id")))
        if known and known["crate_id"] != 0:
            written = p["path"].removeprefix("$crate::__private::")
            if "::" in written and not written.startswith(("crate::", "$crate::", "self::", "super::")):
                name = written
            else:
                name = known["path"][0] + "::" + known["path"][-1]
        else:
            name = p["path"].split("::")[-1]
        return name + self.generic_args(p.get("args"))

    def generic_args(self, a):
        if not a:
            return ""
        if "angle_bracketed" in a:
            ab = a["angle_bracketed"]
            parts = [self.generic_arg(x) for x in ab["args"]]
            for c in ab["constraints"]:
                b = c["binding"]
                if "equality" in b:
                    eq = b["equality"]
                    val = self.ty(eq["type"]) if "type" in eq else str(eq.get("constant"))
                    parts.append(f"{c['name']} = {val}")
                else:
                    parts.append(f"{c['name']}: {self.bounds(b['constraint'])}")
            return "<" + ", ".join(parts) + ">" if parts else ""
        if "parenthesized" in a:
            p = a["parenthesized"]
            out = "(" + ", ".join(self.ty(t) for t in p["inputs"]) + ")"
            if p.get("output"):
                out += " -> " + self.ty(p["output"])
            return out
        return ""

    def generic_arg(self, x):
        if "lifetime" in x:
            return x["lifetime"]
        if "type" in x:
            return self.ty(x["type"])
        if "const" in x:
            return x["const"].get("expr", "_")
        return "_"

    def ty(self, t):
        if t is None:
            return "()"
        k, v = next(iter(t.items()))
        if k == "resolved_path":
            return self.path_name(v)
        if k == "primitive":
            return "!" if v == "never" else v
        if k == "generic":
            return v
        if k == "borrowed_ref":
            lt = v["lifetime"] + " " if v["lifetime"] else ""
            return "&" + lt + ("mut " if v["is_mutable"] else "") + self.ty(v["type"])
        if k == "raw_pointer":
            return ("*mut " if v["is_mutable"] else "*const ") + self.ty(v["type"])
        if k == "slice":
            return "[" + self.ty(v) + "]"
        if k == "array":
            return "[" + self.ty(v["type"]) + "; " + v["len"] + "]"
        if k == "tuple":
            inner = ", ".join(self.ty(x) for x in v)
            return "(" + inner + ("," if len(v) == 1 else "") + ")"
        if k == "impl_trait":
            return "impl " + self.bounds(v)
        if k == "dyn_trait":
            traits = [self.poly_trait(p) for p in v["traits"]]
            if v.get("lifetime"):
                traits.append(v["lifetime"])
            return "dyn " + " + ".join(traits)
        if k == "function_pointer":
            return self.header(v["header"]) + "fn" + self.sig(v["sig"], names=False)
        if k == "qualified_path":
            tr = f" as {self.path_name(v['trait'])}" if v.get("trait") else ""
            return f"<{self.ty(v['self_type'])}{tr}>::{v['name']}"
        if k == "infer":
            return "_"
        if k == "pat":
            return self.ty(v["type"])
        return k

    def poly_trait(self, p):
        hr = ""
        if p.get("generic_params"):
            hr = "for<" + ", ".join(g["name"] for g in p["generic_params"]) + "> "
        return hr + self.path_name(p["trait"])

    def bounds(self, bs):
        out = []
        for b in bs:
            if "trait_bound" in b:
                tb = b["trait_bound"]
                m = {"maybe": "?", "maybe_const": "~const "}.get(tb.get("modifier"), "")
                hr = ""
                if tb.get("generic_params"):
                    hr = "for<" + ", ".join(g["name"] for g in tb["generic_params"]) + "> "
                out.append(m + hr + self.path_name(tb["trait"]))
            elif "outlives" in b:
                out.append(b["outlives"])
            elif "use" in b:
                out.append("use<" + ", ".join(
                    x if isinstance(x, str) else next(iter(x.values())) for x in b["use"]) + ">")
        return " + ".join(out)

    def generics(self, g):
        params = []
        for p in g["params"]:
            k, v = next(iter(p["kind"].items()))
            if k == "lifetime":
                o = v.get("outlives") or []
                params.append(p["name"] + (": " + " + ".join(o) if o else ""))
            elif k == "type":
                if v.get("is_synthetic"):
                    continue  # `impl Trait` in argument position, shown there
                s = p["name"]
                if v["bounds"]:
                    s += ": " + self.bounds(v["bounds"])
                if v.get("default"):
                    s += " = " + self.ty(v["default"])
                params.append(s)
            elif k == "const":
                params.append(f"const {p['name']}: {self.ty(v['type'])}")
        return "<" + ", ".join(params) + ">" if params else ""

    def where_clause(self, g):
        preds = []
        for w in g["where_predicates"]:
            k, v = next(iter(w.items()))
            if k == "bound_predicate":
                preds.append(self.ty(v["type"]) + ": " + self.bounds(v["bounds"]))
            elif k == "lifetime_predicate":
                preds.append(v["lifetime"] + ": " + " + ".join(v["outlives"]))
            elif k == "eq_predicate":
                rhs = v["rhs"]
                preds.append(self.ty(v["lhs"]) + " = " +
                             (self.ty(rhs["type"]) if "type" in rhs else str(rhs)))
        return " where " + ", ".join(preds) if preds else ""

    def header(self, h):
        out = ""
        if h.get("is_const"):
            out += "const "
        if h.get("is_async"):
            out += "async "
        if h.get("is_unsafe"):
            out += "unsafe "
        abi = h.get("abi", "Rust")
        if abi != "Rust":
            name = abi if isinstance(abi, str) else next(iter(abi))
            out += f'extern "{name}" '
        return out

    def sig(self, s, names=True):
        args = []
        for name, t in s["inputs"]:
            if names and name == "self":
                tt = self.ty(t)
                args.append({"Self": "self", "&Self": "&self",
                             "&mut Self": "&mut self"}.get(tt, "self: " + tt))
            else:
                args.append(f"{name}: {self.ty(t)}" if names else self.ty(t))
        if s.get("is_c_variadic"):
            args.append("...")
        out = "(" + ", ".join(args) + ")"
        if s.get("output") is not None:
            out += " -> " + self.ty(s["output"])
        return out

    def fn(self, name, f):
        g = f["generics"]
        return (self.header(f["header"]) + "fn " + name + self.generics(g) +
                self.sig(f["sig"]) + self.where_clause(g))

    # ---- items -------------------------------------------------------------------------
    def add(self, line):
        self.lines.add(line)

    def attrs(self, it):
        out = []
        for a in it.get("attrs") or []:
            if a == "non_exhaustive" or (isinstance(a, dict) and "non_exhaustive" in a):
                out.append("#[non_exhaustive] ")
        return "".join(out)

    def walk_module(self, path, mod):
        for cid in mod["items"]:
            it = self.item(cid)
            if it is None or it["visibility"] != "public":
                continue
            self.walk_item(path, it)

    def walk_item(self, path, it, name=None):
        k, v = next(iter(it["inner"].items()))
        name = name or (v["name"] if k == "use" else it["name"])
        full = f"{path}::{name}"
        if k == "use":
            target = self.item(v["id"]) if v.get("id") is not None else None
            if v["is_glob"]:
                if target and "module" in target["inner"]:
                    self.walk_module(path, target["inner"]["module"])
                elif target and "enum" in target["inner"]:
                    for vid in target["inner"]["enum"]["variants"]:
                        var = self.item(vid)
                        self.add(f"pub use {path}::{var['name']}")
                return
            if target is None:  # an item of another crate, re-exported
                self.add(f"pub use {full} = {v['source']}")
                return
            canonical = self.direct.get(target["id"])
            if canonical is not None and canonical != full:
                # Also public where it is defined: listed there, with its members.
                self.add(f"pub use {full} = {canonical}")
                return
            self.walk_item(path, target, v["name"])
            return
        key = (full, it["id"])
        if key in self.seen:
            return
        self.seen.add(key)
        pre = self.attrs(it)
        if k == "module":
            self.add(f"{pre}pub mod {full}")
            self.walk_module(full, v)
        elif k == "function":
            self.add(f"{pre}pub {self.fn(full, v)}")
        elif k == "struct":
            g = v["generics"]
            self.add(f"{pre}pub struct {full}{self.generics(g)}{self.where_clause(g)}"
                     + self.struct_kind(full, v["kind"]))
            self.impls(full, v["impls"])
        elif k == "union":
            self.add(f"{pre}pub union {full}{self.generics(v['generics'])}")
            self.fields(full, v["fields"])
            self.impls(full, v["impls"])
        elif k == "enum":
            g = v["generics"]
            self.add(f"{pre}pub enum {full}{self.generics(g)}{self.where_clause(g)}")
            for vid in v["variants"]:
                var = self.item(vid)
                vk = var["inner"]["variant"]["kind"]
                vpath = f"{full}::{var['name']}"
                vpre = self.attrs(var)
                if vk == "plain":
                    disc = var["inner"]["variant"].get("discriminant")
                    self.add(f"{vpre}pub {vpath}" + (f" = {disc['expr']}" if disc else ""))
                else:
                    self.add(f"{vpre}pub {vpath}" + self.struct_kind(vpath, vk, variant=True))
            self.impls(full, v["impls"])
        elif k == "trait":
            g = v["generics"]
            sup = ": " + self.bounds(v["bounds"]) if v["bounds"] else ""
            uns = "unsafe " if v["is_unsafe"] else ""
            self.add(f"{pre}pub {uns}trait {full}{self.generics(g)}{sup}{self.where_clause(g)}")
            for iid in v["items"]:
                self.assoc(full, self.item(iid), in_trait=True)
        elif k == "constant":
            self.add(f"{pre}pub const {full}: {self.ty(v['type'])}")
        elif k == "static":
            m = "mut " if v.get("is_mutable") else ""
            self.add(f"{pre}pub static {m}{full}: {self.ty(v['type'])}")
        elif k == "type_alias":
            g = v["generics"]
            self.add(f"{pre}pub type {full}{self.generics(g)} = {self.ty(v['type'])}")
        elif k in ("macro", "proc_macro"):
            self.add(f"pub macro {full}!")
        elif k == "trait_alias":
            self.add(f"pub trait {full} = {self.bounds(v['params'])}")
        else:
            self.add(f"pub {k} {full}")

    def struct_kind(self, full, kind, variant=False):
        if kind == "unit":
            return ""
        if "tuple" in kind:
            fields = []
            for fid in kind["tuple"]:
                f = self.item(fid) if fid is not None else None
                if f is None or (not variant and f["visibility"] != "public"):
                    fields.append("_")
                else:
                    fields.append(self.ty(f["inner"]["struct_field"]))
            return "(" + ", ".join(fields) + ")"
        body = kind.get("plain") or kind.get("struct")  # a struct's / a variant's named fields
        if body is not None:
            self.fields(full, body["fields"], variant)
            return " { .. }" if body.get("has_stripped_fields") else ""
        return ""

    def fields(self, full, ids, variant=False):
        for fid in ids:
            f = self.item(fid)
            if f and (variant or f["visibility"] == "public"):
                self.add(f"pub {full}::{f['name']}: {self.ty(f['inner']['struct_field'])}")

    def impls(self, full, ids):
        for iid in ids:
            imp = self.item(iid)
            if imp is None:
                continue
            v = imp["inner"]["impl"]
            if v.get("blanket_impl") is not None:
                continue
            tr = v.get("trait")
            if v.get("is_synthetic") and not (tr and tr["path"] in ("Send", "Sync")):
                continue
            g = v["generics"]
            if tr is None:
                for aid in v["items"]:
                    a = self.item(aid)
                    if a and a["visibility"] == "public":
                        self.assoc(full, a)
                continue
            neg = "!" if v.get("is_negative") else ""
            uns = "unsafe " if v.get("is_unsafe") else ""
            self.add(f"{uns}impl{self.generics(g)} {neg}{self.path_name(tr)} for "
                     f"{self.ty(v['for'])}{self.where_clause(g)}   [{full}]")

    def assoc(self, full, a, in_trait=False):
        if a is None:
            return
        k, v = next(iter(a["inner"].items()))
        p = f"{full}::{a['name']}"
        pre = "" if in_trait else "pub "
        if k == "function":
            body = "" if in_trait and not v.get("has_body") else ""
            self.add(f"{pre}{self.fn(p, v)}{body}")
        elif k == "assoc_const":
            self.add(f"{pre}const {p}: {self.ty(v['type'])}")
        elif k == "assoc_type":
            b = ": " + self.bounds(v["bounds"]) if v.get("bounds") else ""
            t = " = " + self.ty(v["type"]) if v.get("type") else ""
            self.add(f"{pre}type {p}{b}{t}")

    def find_direct(self, path, mod):
        """Items public at their definition's path (every module on the way public)."""
        for cid in mod["items"]:
            it = self.item(cid)
            if it is None or it["visibility"] != "public" or "use" in it["inner"]:
                continue
            full = f"{path}::{it['name']}"
            self.direct.setdefault(it["id"], full)
            if "module" in it["inner"]:
                self.find_direct(full, it["inner"]["module"])

    def run(self):
        root = self.item(self.doc["root"])
        self.direct = {}
        self.find_direct(root["name"], root["inner"]["module"])
        self.walk_module(root["name"], root["inner"]["module"])
        self.add(f"pub mod {root['name']}")
        return sorted(self.lines)


def listing(crate):
    return "\n".join(Printer(build_json(crate)).run()) + "\n"


def main(argv):
    bless = "--bless" in argv
    to_stdout = "--print" in argv
    crates = [argv[i + 1] for i, a in enumerate(argv) if a == "-p" and i + 1 < len(argv)]
    failed = []
    for crate in crates or CRATES:
        text = listing(crate)
        path = ROOT / "api" / f"{crate}.txt"
        if to_stdout:
            sys.stdout.write(text)
        elif bless:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)} ({text.count(chr(10))} items)")
        else:
            old = path.read_text() if path.exists() else ""
            if old == text:
                print(f"ok   {crate}: public API unchanged ({text.count(chr(10))} items)")
                continue
            failed.append(crate)
            import difflib
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(True), text.splitlines(True),
                f"api/{crate}.txt (checked in)", f"{crate} (this tree)"))
    if failed:
        print(f"\nThe public API of {', '.join(failed)} changed. If that is intended, regenerate "
              f"the listing and commit it with the change:\n    scripts/public-api.py --bless")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

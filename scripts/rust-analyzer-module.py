#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Put the udprx module's crate into the rust-project.json that `make rust-analyzer` wrote.

The kernel's scripts/generate_rust_analyzer.py finds an external module's crate roots by
looking for `<name>.o` in a Makefile or Kbuild next to each .rs file. udprx's Kbuild is at
the top of the tree and its crate root is rust/udprx_main.rs, so the generator lists only
the kernel's crates. This adds the module's crate as the generator adds a driver's: the
same dependencies (core, kernel, pin_init, zerocopy, zerocopy_derive, plus ffi and macros,
which the module names), the kernel's cfgs, edition 2021, and its sources: rust/ (with the
generated bindings module, rust/kapi/bindings_generated.rs, which `make` writes) and the
two host crates compiled into it (crates/abi/src, crates/rxqueue/src).

    rust-analyzer-module.py FILE TOP         add the crate (idempotent)
    rust-analyzer-module.py --check FILE TOP exit 1 unless the crate is there, complete

The host crates (crates/*) stay cargo's: rust-analyzer opens them through Cargo.toml.
"""
import json
import pathlib
import sys

DEPS = ("core", "kernel", "pin_init", "zerocopy", "zerocopy_derive", "ffi", "macros")


def module_crate(top: pathlib.Path) -> dict:
    return {
        "root": str(top / "rust" / "udprx_main.rs"),
        "include_dirs": [
            str(top / "rust"),
            str(top / "crates" / "abi" / "src"),
            str(top / "crates" / "rxqueue" / "src"),
        ],
    }


def find(crates, root):
    return next((c for c in crates if c["root_module"] == root), None)


def check(project: dict, top: pathlib.Path) -> list:
    want = module_crate(top)
    crates = project["crates"]
    c = find(crates, want["root"])
    if c is None:
        return [f"no crate with root_module {want['root']}"]
    errors = []
    names = {d["name"]: crates[d["crate"]]["display_name"] for d in c["deps"]}
    for d in DEPS:
        if names.get(d) != d:
            errors.append(f"dependency {d} missing")
    kernel = next(x for x in crates if x["display_name"] == "kernel")
    if c["cfg"] != kernel["cfg"]:
        errors.append("cfgs differ from the kernel crate's")
    for d in want["include_dirs"]:
        if d not in c.get("source", {}).get("include_dirs", []):
            errors.append(f"source dir {d} missing")
    if not pathlib.Path(want["root"]).is_file():
        errors.append(f"{want['root']} does not exist")
    return errors


def main() -> int:
    args = sys.argv[1:]
    checking = args[:1] == ["--check"]
    if checking:
        args = args[1:]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path, top = pathlib.Path(args[0]), pathlib.Path(args[1]).resolve()
    project = json.loads(path.read_text())
    if checking:
        errors = check(project, top)
        for e in errors:
            print(f"{path}: {e}", file=sys.stderr)
        return 1 if errors else 0
    crates = project["crates"]
    want = module_crate(top)
    if find(crates, want["root"]) is None:
        index = {c["display_name"]: i for i, c in enumerate(crates)}
        missing = [d for d in DEPS if d not in index]
        if missing:
            print(f"{path}: the kernel's crates lack {missing}", file=sys.stderr)
            return 1
        kernel = crates[index["kernel"]]
        crates.append({
            "display_name": "udprx_main",
            "root_module": want["root"],
            "is_workspace_member": True,
            "deps": [{"crate": index[d], "name": d} for d in DEPS],
            "cfg": kernel["cfg"],
            "edition": "2021",
            "env": {"RUST_MODFILE": "This is only for rust-analyzer"},
            "source": {"include_dirs": want["include_dirs"], "exclude_dirs": []},
        })
        path.write_text(json.dumps(project, sort_keys=True, indent=4) + "\n")
    errors = check(project, top)
    for e in errors:
        print(f"{path}: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

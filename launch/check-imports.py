#!/usr/bin/env python3
"""Checks that every module a target imports is named in that target's own
dependencies in Package.swift, and that every dependency it names is imported.

Reads the package with `swift package dump-package`; exits 1 listing each
undeclared import and each unused dependency, 0 when there are none.
"""
import json
import os
import re
import subprocess
import sys

# Modules of the toolchain and the system, which need no declaration.
SYSTEM = {"Foundation", "Glibc", "Dispatch", "Darwin", "XCTest", "Testing", "FoundationNetworking", "os", "Synchronization"}
# A product's module name, where it differs from the product's.
PRODUCT_MODULES = {}

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
package = json.loads(subprocess.run(["swift", "package", "dump-package"], cwd=root, check=True,
                                    capture_output=True, text=True).stdout)
problems = []
for target in package["targets"]:
    if target["type"] == "system":
        continue
    name = target["name"]
    declared = set()
    for dependency in target["dependencies"]:
        for kind, value in dependency.items():
            module = value[0]
            declared.add(PRODUCT_MODULES.get(module, module))
    path = target.get("path") or os.path.join("Tests" if target["type"] == "test" else "Sources", name)
    imported = {}
    for directory, _, files in os.walk(os.path.join(root, path)):
        for file in files:
            if not file.endswith(".swift"):
                continue
            full = os.path.join(directory, file)
            for line in open(full, encoding="utf-8"):
                match = re.match(r"\s*(?:@testable\s+|@_implementationOnly\s+)?import\s+(?:struct\s+|class\s+|enum\s+|func\s+)?(\w+)", line)
                # Lowercase names are Python or shell lines inside a test's string literal;
                # underscore-named internal targets (_ProtobufWire) are Swift modules.
                if match and (match.group(1)[0].isupper() or match.group(1).startswith("_")):
                    imported.setdefault(match.group(1), os.path.relpath(full, root))
    for module, file in sorted(imported.items()):
        if module not in SYSTEM and module not in declared:
            problems.append(f"{file}: imports {module}, which target {name} does not declare")
    # Executables a test starts need no import; the C shims may be reached through a Swift module's headers.
    executables = {t["name"] for t in package["targets"] if t["type"] == "executable"}
    for module in sorted(declared - set(imported) - executables):
        problems.append(f"Package.swift: target {name} declares {module} but never imports it")
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)

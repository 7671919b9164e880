#!/usr/bin/env python3
"""Golden tests of the sft command-line tool.

Each directory tests/cli/cases/CASE holds
  cmd         one line: the arguments after `sft`, split like a shell would
              (shlex); a word with * or ? is expanded like a shell glob,
              sorted, relative to the working directory. Several lines are
              several runs of sft, one after the other in the same working
              directory (e.g. split, then validate what it wrote): their
              outputs are concatenated and exit.exp holds one status per line
  stdout.exp  the exact bytes expected on stdout
  stderr.exp  the exact bytes expected on stderr
  exit.exp    the expected exit status
  requires    (optional) commands the case needs; without one of them in
              this build (`sft --help`), the case is skipped

A case runs in its own working directory (under --work) that holds
  files/        -> tests/cli/files (inputs written by make_files.py)
  fixtures/     -> the shared fixtures (../shared/fixtures), when present
  a-directory/  an empty directory
  a-fifo        a named pipe
  no-permission.safetensors   a copy of files/ok.safetensors with mode 000
so outputs name files by short relative paths that are the same everywhere.
The environment is reduced to PATH and LC_ALL=C.

A case that uses fixtures/ is skipped when the fixtures are absent. One that
uses no-permission.safetensors runs sft as user nobody (setpriv) when the tests
run as root, who could read the file; it is skipped if that is impossible.
Exit status: 0 all passed, 1 some failed, 77 every selected case was skipped.

SFT_CLI_UPDATE=1 writes the actual outputs as the new expectations instead of
comparing. Review every changed file (git diff) before committing it: an
expectation that records a bug is worse than none.
"""
import argparse
import difflib
import glob
import os
import shlex
import shutil
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "py"))
from sft_require import fixtures_required  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "cases")
FILES = os.path.join(HERE, "files")


def prepare_workdir(work, fixtures):
    if os.path.isdir(work):
        np = os.path.join(work, "no-permission.safetensors")
        if os.path.exists(np):
            os.chmod(np, 0o600)
        shutil.rmtree(work)
    os.makedirs(work)
    os.symlink(FILES, os.path.join(work, "files"))
    if os.path.isdir(fixtures):
        os.symlink(os.path.abspath(fixtures), os.path.join(work, "fixtures"))
    os.mkdir(os.path.join(work, "a-directory"))
    os.mkfifo(os.path.join(work, "a-fifo"))
    np = os.path.join(work, "no-permission.safetensors")
    shutil.copyfile(os.path.join(FILES, "ok.safetensors"), np)
    os.chmod(np, 0)


def expand(words, work):
    args = []
    for w in words:
        if any(c in w for c in "*?["):
            matches = sorted(glob.glob(w, root_dir=work))
            args.extend(matches if matches else [w])
        else:
            args.append(w)
    return args


NOBODY = 65534


def needs_unprivileged(cmdline):
    return "no-permission" in cmdline and os.geteuid() == 0


def skip_reason(cmdline, fixtures, sft, case):
    # A case may list in a file `requires` the commands it needs; it is skipped
    # when this build lacks one (split, merge and convert need the Writer).
    req = os.path.join(case, "requires")
    if os.path.exists(req):
        listed = subprocess.run([sft, "--help"], capture_output=True, text=True).stdout
        for command in open(req, encoding="utf-8").read().split():
            if f"\n  {command} " not in listed:
                return f"this sft has no '{command}' command"
    if "fixtures/" in cmdline and not os.path.isdir(fixtures):
        if fixtures_required():
            return None  # SFT_REQUIRE_FIXTURES=1: run it, and let it fail
        return f"fixtures not found at {fixtures}"
    if needs_unprivileged(cmdline) and not shutil.which("setpriv"):
        return "running as root (who reads a file of mode 000) and setpriv is missing"
    return None


def show(data):
    return data.decode("utf-8", errors="backslashreplace").splitlines(keepends=True)


def run_case(name, sft, fixtures, work_root, update):
    case = os.path.join(CASES, name)
    with open(os.path.join(case, "cmd"), encoding="utf-8") as f:
        cmdline = f.read().strip()
    reason = skip_reason(cmdline, fixtures, sft, case)
    if reason:
        print(f"SKIP {name}: {reason}")
        return "skip"
    work = os.path.join(work_root, name)
    prepare_workdir(work, fixtures)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
    prefix = []
    if needs_unprivileged(cmdline):
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    actual = {"stdout.exp": b"", "stderr.exp": b"", "exit.exp": b""}
    for line in [l for l in cmdline.splitlines() if l.strip()] or [""]:
        args = expand(shlex.split(line), work)
        try:
            p = subprocess.run(prefix + [sft] + args, cwd=work, env=env, capture_output=True, timeout=120)
        except subprocess.TimeoutExpired:
            print(f"FAIL {name}: timed out: sft {line}")
            return "fail"
        actual["stdout.exp"] += p.stdout
        actual["stderr.exp"] += p.stderr
        actual["exit.exp"] += f"{p.returncode}\n".encode()

    if update:
        for fname, data in actual.items():
            with open(os.path.join(case, fname), "wb") as f:
                f.write(data)
        print(f"UPDATED {name}")
        return "pass"

    failed = False
    for fname, data in actual.items():
        path = os.path.join(case, fname)
        if not os.path.exists(path):
            print(f"FAIL {name}: {fname} missing (SFT_CLI_UPDATE=1 writes it; review it before committing)")
            failed = True
            continue
        with open(path, "rb") as f:
            want = f.read()
        if want != data:
            failed = True
            print(f"FAIL {name}: {fname} differs (sft {cmdline})")
            sys.stdout.writelines(difflib.unified_diff(show(want), show(data), f"expected/{fname}", f"actual/{fname}"))
            print()
    if not failed:
        print(f"PASS {name}")
    return "fail" if failed else "pass"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sft", required=True, help="the sft binary")
    ap.add_argument("--fixtures", default=os.path.join(HERE, "..", "..", "..", "shared", "fixtures"))
    ap.add_argument("--work", required=True, help="scratch directory for the cases' working directories")
    ap.add_argument("cases", nargs="*", help="case names (default: all)")
    args = ap.parse_args()

    names = args.cases or sorted(d for d in os.listdir(CASES) if os.path.isdir(os.path.join(CASES, d)))
    update = os.environ.get("SFT_CLI_UPDATE", "") not in ("", "0")
    sft = os.path.abspath(args.sft)
    results = [run_case(n, sft, args.fixtures, os.path.abspath(args.work), update) for n in names]
    if "fail" in results:
        return 1
    if results and all(r == "skip" for r in results):
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())

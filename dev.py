"""One entry point on a fresh machine: `python3 dev.py demo`, `test` or `docs`.

It makes a private virtual environment holding nox (once), then hands over to
the noxfile, which installs everything else each session needs.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".venv-dev"
COMMANDS = {
    "demo": ["-s", "demo"],
    "test": ["-s", "tests", "lint", "typecheck", "imports"],
    "docs": ["-s", "docs"],
}


def main(argv: list[str]) -> int:
    """Run the named command; extra arguments go to nox."""
    if not argv or argv[0] not in COMMANDS:
        sys.stderr.write(f"usage: python3 dev.py {{{'|'.join(COMMANDS)}}} [nox args]\n")
        return 2
    python = TOOLS / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(with_pip=True).create(TOOLS)
        subprocess.run([python, "-m", "pip", "install", "-q", "nox>=2024.4"], check=True)
    nox = [str(python), "-m", "nox", "-f", str(ROOT / "noxfile.py")]
    return subprocess.call([*nox, *COMMANDS[argv[0]], *argv[1:]], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

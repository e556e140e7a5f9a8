"""Running dcmtk's command-line tools (storescu, echoscu) against the receiver."""

import shutil
import subprocess


def dcmtk(tool: str, *args) -> subprocess.CompletedProcess:
    path = shutil.which(tool)
    assert path, f"{tool} (Debian's dcmtk) is not installed"
    return subprocess.run([path, *map(str, args)], capture_output=True, text=True, timeout=60)

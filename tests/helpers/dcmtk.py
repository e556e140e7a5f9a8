"""Running dcmtk's command-line tools (storescu, echoscu) against the receiver."""

import shutil
import subprocess


def dcmtk(tool: str, *args) -> subprocess.CompletedProcess:
    path = shutil.which(tool)
    assert path, f"{tool} (Debian's dcmtk) is not installed"
    return subprocess.run([path, *map(str, args)], capture_output=True, text=True, timeout=60)


def storescu(port: int, *files, calling: str = "PACS1") -> subprocess.CompletedProcess:
    """Send `files` to the receiver (TEACHING) on 127.0.0.1:`port` as the configured sender."""
    return dcmtk("storescu", "-aet", calling, "-aec", "TEACHING", "127.0.0.1", port, *files)

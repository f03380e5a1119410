"""Rewrites the data files measured from installed packages: `python -m optviz.core.data` (after upgrading
pytorch-optimizer or torch, or changing optviz.core.external's probe), then commit the result."""
from optviz.core import external

if __name__ == "__main__":
    print(f"wrote {external.write_probe_file()} ({len(external.names())} pytorch-optimizer classes)")

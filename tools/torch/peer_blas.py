"""Gives the PyTorch peer the OpenBLAS kernels its CPU supports.

OpenBLAS picks its kernels for the CPU when the library loads. A build that does not know the CPU model falls back to a
generic core: Debian's OpenBLAS 0.3.21 calls the 2-core Xeon (Sapphire Rapids class, in a VM) of our benchmarks
"Prescott" and runs SSE3 kernels, which made PyTorch's training step about 2x slower than with its AVX-512 kernels. A
benchmark against that would flatter us, so before torch is imported, `ensure()` checks which core the OpenBLAS that
torch loads chose, and when it is a generic one on a CPU with AVX-512 (or AVX2) it runs the script again with
OPENBLAS_CORETYPE=SkylakeX (or Haswell), the core OpenBLAS itself picks for such a CPU when it recognises it. An
OPENBLAS_CORETYPE already set is left alone; `describe()` says which core ran and why.
"""
import os
import subprocess
import sys

# Cores OpenBLAS falls back to when it does not recognise a CPU: no AVX2 kernels.
GENERIC = {"prescott", "katmai", "coppermine", "northwood", "banias", "core2", "penryn", "dunnington", "nehalem",
           "atom", "generic", "unknown"}

PROBE = "import torch, peer_blas; print(peer_blas.core() or '')"


def core():
    """The core name of the OpenBLAS loaded in this process (after `import torch`), or None without OpenBLAS."""
    import ctypes
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode()
        except (OSError, AttributeError):
            continue
    return None


def cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def best_core(flags):
    """The OpenBLAS core for a CPU with these flags: SkylakeX with AVX-512, Haswell with AVX2 and FMA, else None."""
    if {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    return None


def ensure():
    """Call before importing torch: re-runs this script with OPENBLAS_CORETYPE set if OpenBLAS chose a generic core."""
    if os.environ.get("OPENBLAS_CORETYPE") or os.environ.get("LORY4J_PEER_BLAS_CHECKED"):
        return
    os.environ["LORY4J_PEER_BLAS_CHECKED"] = "1"
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        detected = subprocess.run([sys.executable, "-c", PROBE], cwd=here, capture_output=True, text=True,
                                  timeout=120).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return
    want = best_core(cpu_flags())
    if not detected or detected.lower() not in GENERIC or want is None:
        return
    env = dict(os.environ, OPENBLAS_CORETYPE=want, LORY4J_PEER_BLAS_DETECTED=detected)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def describe():
    """One line for the peer's name: the OpenBLAS core that ran, and whether OPENBLAS_CORETYPE chose it."""
    name = core()
    if name is None:
        return ""
    detected = os.environ.get("LORY4J_PEER_BLAS_DETECTED")
    if detected:
        return "OpenBLAS %s (set by OPENBLAS_CORETYPE; it had detected %s)" % (name, detected)
    if os.environ.get("OPENBLAS_CORETYPE"):
        return "OpenBLAS %s (OPENBLAS_CORETYPE from the environment)" % name
    return "OpenBLAS " + name

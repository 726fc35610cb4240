# branchgate's nft session (issue 20): `nft -i`'s job with netfilter's own libnftables, through
# its Python binding (Debian's python3-nftables). Run as `/usr/bin/python3 nft-session.py`.
#
# It reads one nft command per line on standard input and runs each as its own transaction,
# exactly as `nft -i` does, and writes what nft would print: the output on standard output,
# the errors on standard error, in order, flushed after each line. The gate's batch session
# (src/gate/batch-session.ts) parses those errors unchanged. Why not `nft -i` itself: it reads
# its input through libedit one byte per read(2) and writes its errors in many small writes;
# here a line is one read at most and an answer one write (docs/bench.md: the gate section).
#
# `--check`: exits 0 when libnftables can be loaded and a context made, 3 with the reason on
# standard error when not (the service then keeps `nft -i`).
# `--else NFT`: when libnftables cannot be loaded as the session starts (python3-nftables removed
# since the service's check), becomes `NFT -i` on the same input and error, saying nothing: the
# session goes on, as slowly as before, instead of failing every change until a restart.
import os
import sys


def main():
    args = sys.argv[1:]
    try:
        from nftables import Nftables

        nft = Nftables()
    except Exception as err:  # ImportError, or OSError when libnftables.so.1 is missing
        if len(args) == 2 and args[0] == "--else":
            os.execvp(args[1], [args[1], "-i"])
        sys.stderr.write("libnftables cannot be used: %s\n" % err)
        return 3
    if args == ["--check"]:
        return 0
    stdin = sys.stdin.buffer
    out = sys.stdout.buffer
    err = sys.stderr.buffer
    for raw in stdin:
        line = raw.decode("utf-8", "replace").strip()
        if not line:
            continue
        _rc, output, error = nft.cmd(line)
        if output:
            out.write(output.encode())
            out.flush()
        if error:
            err.write(error.encode())
            err.flush()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (KeyboardInterrupt, BrokenPipeError):
        sys.exit(1)

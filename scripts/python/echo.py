#!/usr/bin/env python3
"""The echo child of the process examples (scripts/lua/process.lua,
scripts/js/process.js): it reads lines on stdin and writes each one back on
stdout at once, byte for byte. It exits when its stdin is closed.

    python3 echo.py
"""
import sys


def main():
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    for line in inp:
        out.write(line)
        out.flush()


if __name__ == "__main__":
    main()

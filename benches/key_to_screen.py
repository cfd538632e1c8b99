#!/usr/bin/env python3
"""Keystroke to screen through an outer tmux, without polling by fork.

    python3 benches/key_to_screen.py SOCKET SAMPLES

The outer tmux server on SOCKET (session `main`, one pane) stands in for the user's terminal:
the program measured (boocode, or a tmux client) runs in its pane, at a shell prompt `$ `.
This script attaches to it as a control-mode client (`tmux -C`), which the server tells about
every read from the pane as it happens (`%output` lines), and which can run `capture-pane`
over the same pipe in a fraction of a millisecond (no process started per look).

Per sample: one character is typed with `send-keys`, and the time is taken from writing that
command to the arrival of the `%output` after which a `capture-pane` shows `$ ` followed by
the character (the output that drew it). The line is then cleared with C-u and the screen
waited on until the character is gone. Prints `median p95 probe` in milliseconds, where
probe is one capture-pane round trip (what a capture adds after the output arrived: it is not
part of the figures, it only bounds when the check could happen).
"""

import os
import select
import statistics
import subprocess
import sys
import time

PROMPT = "$ "
MARKERS = "QZXJVWKP"
TIMEOUT = 5.0


class Control:
    def __init__(self, socket):
        self.proc = subprocess.Popen(
            ["tmux", "-L", socket, "-C", "attach", "-t", "main"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        self.fd = self.proc.stdout.fileno()
        self.pending = b""
        # Replies come back in the order commands were sent: (kind, outputs seen when sent).
        self.replies = []
        self.block = None
        self.outputs = 0
        self.last_output = 0.0

    def send(self, command, kind):
        self.replies.append((kind, self.outputs))
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()

    def events(self, deadline):
        """Yields ("output", time) and ("reply", kind, sent_at_outputs, lines, time)."""
        while True:
            while b"\n" in self.pending:
                line, self.pending = self.pending.split(b"\n", 1)
                at = time.monotonic()
                if self.block is not None:
                    if line.startswith(b"%end") or line.startswith(b"%error"):
                        lines, ours = self.block
                        self.block = None
                        # Flag 1: the answer to a command this client sent (not the attach).
                        if ours:
                            kind, sent_at = self.replies.pop(0)
                            yield ("reply", kind, sent_at, lines, at)
                    else:
                        self.block[0].append(line.decode("utf-8", "replace"))
                elif line.startswith(b"%begin"):
                    self.block = ([], line.split()[-1] == b"1")
                elif line.startswith(b"%output"):
                    self.outputs += 1
                    self.last_output = at
                    yield ("output", at)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the outer tmux")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                data = os.read(self.fd, 1 << 16)
                if not data:
                    raise EOFError("the control client ended")
                self.pending += data

    def settle(self):
        """Waits for the attach's own reply and drops what came before."""
        self.send("display -p ready", "sync")
        for event in self.events(time.monotonic() + TIMEOUT):
            if event[0] == "reply" and event[1] == "sync":
                return

    def wait_screen(self, shown, deadline):
        """Captures (again after each output) until `shown(text)`; returns the time of the
        last output before the capture that showed it."""
        self.send("capture-pane -p -t main", "capture")
        for event in self.events(deadline):
            if event[0] != "reply" or event[1] != "capture":
                continue
            _, _, sent_at, lines, _ = event
            if shown("\n".join(lines)):
                return self.last_output
            if self.outputs > sent_at:
                self.send("capture-pane -p -t main", "capture")
                continue
            # Nothing new since this capture was asked for: wait for the next output.
            for later in self.events(deadline):
                if later[0] == "output":
                    break
            self.send("capture-pane -p -t main", "capture")

    def probe_cost(self, n=50):
        t0 = time.monotonic()
        for _ in range(n):
            self.send("capture-pane -p -t main", "capture")
            for event in self.events(time.monotonic() + TIMEOUT):
                if event[0] == "reply" and event[1] == "capture":
                    break
        return (time.monotonic() - t0) * 1000 / n


def main():
    socket, samples = sys.argv[1], int(sys.argv[2])
    ctl = Control(socket)
    ctl.settle()
    figures = []
    for i in range(samples):
        marker = PROMPT + MARKERS[i % len(MARKERS)]
        t0 = time.monotonic()
        ctl.send(f"send-keys -t main -l {marker[-1]}", "keys")
        t1 = ctl.wait_screen(lambda text: marker in text, t0 + TIMEOUT)
        figures.append((t1 - t0) * 1000)
        ctl.send("send-keys -t main C-u", "keys")
        ctl.wait_screen(lambda text: marker not in text, time.monotonic() + TIMEOUT)
        time.sleep(0.05)
    figures.sort()
    p95 = figures[min(len(figures) - 1, int(len(figures) * 0.95 + 0.5) - 1)]
    print(f"{statistics.median(figures):.1f} {p95:.1f} {ctl.probe_cost():.2f}")
    ctl.proc.stdin.close()
    ctl.proc.wait(timeout=TIMEOUT)


if __name__ == "__main__":
    main()

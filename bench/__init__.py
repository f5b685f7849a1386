"""The load tool: fan-out, mutation throughput, idle memory, and a side by
side comparison with a reference peer. Run `python -m bench --help`.

Every run is bounded in count and time, stops by itself, and talks only to
the servers on this machine that it is given or starts.
"""

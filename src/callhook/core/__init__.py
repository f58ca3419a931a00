"""The pure core: standard library and itself only; no I/O, clock or environment.

Time comes in as an argument; effects go out as return values.
"""

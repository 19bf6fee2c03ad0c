"""The synthetic city behind `juki generate`: not a pipeline stage, the pipeline's test input.

calibration (the published figures), names (names and places), codes, model (the generator's
register), people, households (the baseline), events (one business day), broken (rows that break
one rule each), files (CSV and truth JSON) and city (`generate_city`, which wires them).
"""

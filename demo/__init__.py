"""`make demo` (`python -m demo`): a frontend and a DEX integration played against a running stack (`make run`).

`demo.flow.run_demo` is the whole flow; `python -m demo` points it at the `make run` stack and
`tests/e2e/test_demo.py` at a stack the test fixtures start, so the demo and its test are one code path.
"""

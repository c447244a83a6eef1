"""Test kit shipped with the library: contract suites, strategies and fakes.

An adapter proves itself by subclassing the suites in `contracts` and
supplying one fixture; see tests/contract/ for the adapters in this package.
"""

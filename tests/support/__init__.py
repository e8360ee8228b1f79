"""Helpers shared by the test suites; imported as ``support.*`` (tests/conftest.py puts tests/ on
sys.path).

- ``support.rootfs``: deterministic base-image rootfs tars (also run by scripts/base-images).
- ``support.daemon``: a real wharfd with private socket and directories, for integration tests.

Standard library only (plus the ``wharf`` executables they run), so they never mask an import
bug in the package under test.
"""

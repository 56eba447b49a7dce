"""How the library uses the machine.

Thread counts for the backend and BLAS, a parallel map over slices of a stack, and routing
native libraries' log output to a job's log file.
"""

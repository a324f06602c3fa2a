"""HTTP only: each blueprint parses a request, calls a service and serialises the result."""

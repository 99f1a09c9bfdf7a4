"""Operations: the production server entry point, /livez, /healthz and /metrics."""

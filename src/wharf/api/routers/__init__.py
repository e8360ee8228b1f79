"""Engine API routers: one module per area, each declaring the backend Protocol it needs."""

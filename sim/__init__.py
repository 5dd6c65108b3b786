"""cocotb testbenches and simulator runners. Not built yet: they arrive with the generators."""

"""SymbiYosys proof generation. Not built yet: it arrives with the formal-verification issue."""

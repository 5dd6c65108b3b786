"""Area / timing / energy model. Not built yet: it arrives with the cost-model issue."""

"""The bgpcore program: a configured route reflector, its control socket and its demo."""

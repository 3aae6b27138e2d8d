"""The GraphQL API and the composition root that wires domain and persistence together."""

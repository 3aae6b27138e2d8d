"""The prediction-markets domain: entities, rules, services and the ports they need."""

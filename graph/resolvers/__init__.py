"""Query resolvers: thin, each turning arguments into a repository or loader call."""

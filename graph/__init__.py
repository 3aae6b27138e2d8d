"""The GraphQL API: schema, types, resolvers, mutations, loaders, permissions and schema extensions."""

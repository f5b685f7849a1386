"""The GraphQL API: schema, resolvers and one execution path.

Named `api` so that `import graphql` always means the library.
"""

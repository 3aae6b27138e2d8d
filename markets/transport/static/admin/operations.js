// Every GraphQL operation the console sends, in one place. They use only the public schema
// (contract/schema.graphql and contract/economy.graphql); nothing here is console-only on the server.

export const LOGIN = `mutation ConsoleLogin($email: String!, $password: String!) {
  login(email: $email, password: $password) { token user { id name email role } }
}`;

export const ME = `query ConsoleMe { me { id name email role } }`;

const MARKET_FIELDS = `id name status volume probability endDate resolvedOutcome createdAt creator { id name }`;

export const MARKETS = `query ConsoleMarkets($filter: MarketFilter, $orderBy: MarketOrder,
    $first: Int, $after: String, $last: Int, $before: String) {
  markets(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node { ${MARKET_FIELDS} } }
  }
}`;

export const SET_MARKET_STATUS = `mutation ConsoleSetMarketStatus($id: ID!, $status: MarketStatus!) {
  updateMarket(id: $id, input: { status: $status }) { ${MARKET_FIELDS} }
}`;

export const RESOLVE_MARKET = `mutation ConsoleResolveMarket($id: ID!, $outcome: Outcome!) {
  resolveMarket(id: $id, outcome: $outcome) { ${MARKET_FIELDS} }
}`;

export const DELETE_MARKET = `mutation ConsoleDeleteMarket($id: ID!) { deleteMarket(id: $id) }`;

// balance: null unless the viewer may see it (the user themself, or an admin).
const USER_FIELDS = `id name email role balance createdAt`;

export const USERS = `query ConsoleUsers($role: Role, $first: Int, $after: String) {
  users(role: $role, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { ${USER_FIELDS} } }
  }
}`;

export const USER = `query ConsoleUser($id: ID!) { user(id: $id) { ${USER_FIELDS} } }`;

export const SET_USER_ROLE = `mutation ConsoleSetUserRole($userId: ID!, $role: Role!) {
  setUserRole(userId: $userId, role: $role) { ${USER_FIELDS} }
}`;

export const ADJUST_BALANCE = `mutation ConsoleAdjustBalance($userId: ID!, $amount: Decimal!, $note: String!) {
  adjustBalance(userId: $userId, amount: $amount, note: $note) { ${USER_FIELDS} }
}`;

export const MARKET_STATUSES = ["ACTIVE", "CLOSED", "RESOLVED", "CANCELLED"];
export const ROLES = ["USER", "MODERATOR", "ADMIN"];

-- name: first_route_cost
-- params: since DateTime64(3), until DateTime64(3); the group slot holds one allow-listed dimension (usually
-- task_type) and the filters slot the filters of metrics.dimensions
-- slots: group, filters
-- returns: grp String (the dimension's value), route String (the first route), users UInt64 (users with a request
-- of the group on the route), group_users UInt64 (each user of the group counted on one of its routes only, so
-- that the sum over routes is the group's users), requests UInt64, resolved UInt64, cost_usd Float64 (all-in:
-- model + router + human, every request), then sums over users of products of each user's sums on the route (c:
-- all-in cost, x: resolved) and in the whole group (c_u, x_u), for the cluster-robust variances of
-- metrics.route_costs: sq_cost (c c), sq_resolved (x x), cost_x_resolved (c x), cost_x_user_cost (c c_u),
-- cost_x_user_resolved (c x_u), resolved_x_user_cost (x c_u), resolved_x_user_resolved (x x_u), all Float64
SELECT
    grp,
    route,
    count() AS users,
    countIf(first) AS group_users,
    sum(n) AS requests,
    sum(x) AS resolved,
    sum(c) AS cost_usd,
    sum(c * c) AS sq_cost,
    sum(x * x) AS sq_resolved,
    sum(c * x) AS cost_x_resolved,
    sum(c * c_u) AS cost_x_user_cost,
    sum(c * x_u) AS cost_x_user_resolved,
    sum(x * c_u) AS resolved_x_user_cost,
    sum(x * x_u) AS resolved_x_user_resolved
FROM
(
    SELECT
        grp,
        route,
        n,
        x,
        c,
        sum(c) OVER user_in_group AS c_u,
        sum(x) OVER user_in_group AS x_u,
        row_number() OVER (PARTITION BY grp, user_key ORDER BY route) = 1 AS first
    FROM
    (
        SELECT
            toString({{group}}) AS grp,
            route,
            user_key,
            count() AS n,
            toFloat64(countIf(resolved)) AS x,
            toFloat64(sum(cost_usd + router_cost_usd + human_cost_usd)) AS c
        FROM requests_live
        WHERE ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
            AND isNotNull(cost_usd)  -- priced requests only, as cost_per_resolved: an unknown cost is never $0
            {{filters}}
        GROUP BY grp, route, user_key
    )
    WINDOW user_in_group AS (PARTITION BY grp, user_key)
)
GROUP BY grp, route

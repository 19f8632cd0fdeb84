// boundary: postgres-style
// The extension's own SQL names every operator, function and type with its schema
// (defence in depth behind the worker's pinned search_path: were it ever changed, an
// app's public.=(text,text) would otherwise run with the worker's rights). Write
// `a OPERATOR(pg_catalog.=) b`, `pg_catalog.now()`, `::pg_catalog.int8`; these macros
// spell the SQL constructs that look `=` up by name through search_path (NULLIF,
// IS DISTINCT FROM; also IN (...), CASE x WHEN, JOIN USING: write those with
// OPERATOR(pg_catalog.=) ANY / CASE WHEN / ON instead).
//
// OPERATOR(...) always has the precedence of "any other operator", whatever the
// operator: parenthesize an operand that is itself an operator expression, e.g.
// `x OPERATOR(pg_catalog.<) (pg_catalog.now() OPERATOR(pg_catalog.-) i)`.
#pragma once

// NULLIF(a, b): NULL when a equals b, else a (a and b are SQL text fragments, each
// evaluated up to twice: use columns and parameters, not volatile calls).
#define SQL_NULLIF(a, b) "CASE WHEN " a " OPERATOR(pg_catalog.=) " b " THEN NULL ELSE " a " END"

// a IS DISTINCT FROM b, for a type whose = is pg_catalog's.
#define SQL_IS_DISTINCT(a, b) \
    "NOT ((" a " OPERATOR(pg_catalog.=) " b ") IS TRUE OR (" a " IS NULL AND " b " IS NULL))"

"""JSON-RPC 2.0 methods of the local node, grouped by what they touch."""

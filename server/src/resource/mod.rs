//! A protected resource: the bearer-token guard any resource server needs, and the example
//! MCP server at `/mcp` that shows what a token says.

pub mod guard;
pub mod mcp;

"""Tool names MindRoom provides (its ``src/mindroom/tools`` registry).

A MindRoom config lists these under ``agents.*.tools``; Traymind ignores the
ones it does not have (with a warning) instead of refusing the whole file. A
name in neither list is still an error, since it is most likely a typo.
"""

from __future__ import annotations

# fmt: off
MINDROOM_TOOLS: frozenset[str] = frozenset(
    {
        "agent_repository", "agentql", "airflow", "apify", "approved_egress", "arxiv",
        "atlassian", "attachments", "aws_lambda", "aws_ses", "baidusearch", "bitbucket",
        "brandfetch", "brave_search", "bravesearch", "brightdata", "browser", "browser_mcp",
        "browserbase", "cal_com", "calculator", "callback_manager", "cartesia", "chat_ui",
        "claude_agent", "clickup", "coding", "compact_context", "composio", "config_manager",
        "confluence", "crawl4ai", "csv", "custom_api", "dalle", "daytona", "delegate",
        "desi_vocal", "desktop", "discord", "docker", "duckdb", "duckduckgo", "dynamic_tools",
        "dynamic_workflow", "e2b", "eleven_labs", "email", "exa", "external_events",
        "external_trigger_manager", "fal", "file", "file_generation", "financial_datasets_api",
        "firecrawl", "gemini", "giphy", "github", "gmail", "google_bigquery", "google_calendar",
        "google_docs", "google_drive", "google_maps", "google_scholar", "google_sheets",
        "google_tasks", "googlesearch", "groq", "hackernews", "homeassistant", "invite_router",
        "jina", "jira", "linear", "linkup", "lumalabs", "matrix_api", "matrix_message",
        "matrix_room", "matrix_voice_message", "mem0", "memory", "microsoft_365",
        "mlx_transcribe", "modelslabs", "moviepy_video_tools", "neo4j", "newspaper",
        "newspaper4k", "notion", "openai", "openbb", "openclaw_compat", "openweather",
        "oxylabs", "pandas", "postgres", "pubmed", "python", "reasoning", "reddit", "redshift",
        "replicate", "resend", "scheduler", "scrapegraph", "searxng", "self_config", "serpapi",
        "serper", "shell", "shopify", "slack", "sleep", "spider", "spotify", "sql",
        "subagents", "tavily", "telegram", "todoist", "trafilatura", "trello", "twilio",
        "unsplash", "visualization", "web_browser_tools", "webbrowser", "webex", "website",
        "whatsapp", "wikipedia", "x", "yfinance", "youtube", "zendesk", "zep", "zoom",
    }
)
# fmt: on

"""The curator studio: pick an agent, tweak the recipe, review candidates, approve one."""

import streamlit as st

from imagegen.providers import default_provider
from ui.auth import require_page
from ui.resources import workspace
from ui.studio_agents import agent_summary, choose_agent, keep_link
from ui.studio_board import board_section, current_board, open_dialog
from ui.studio_recipe import recipe_panel

actor = require_page("curator")
ws = workspace()
st.session_state.setdefault("provider", default_provider(ws.settings))

slug = choose_agent(ws)
if slug is None:
    st.info("The catalog is empty: import agents on the Catalog page.")
    st.stop()
agent = ws.get_agent(slug)
board = current_board(ws, slug)
busy = any(not c.status.finished for c in ws.candidates(board.candidates))

agent_col, recipe_col = st.columns([1, 2], gap="large")
with agent_col:
    agent_summary(ws, agent)
with recipe_col:
    busy = recipe_panel(ws, agent, board, busy)
board = current_board(ws, slug)  # Generate may have opened a new board
keep_link(slug, board.generation)
board_section(ws, agent, board, busy)
open_dialog(ws, agent)

"""Streamlit-side helpers shared by the pages: cached resources and a few small widgets."""

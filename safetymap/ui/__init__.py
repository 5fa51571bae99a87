"""The Streamlit pages: thin, they read input, call the core and show the result."""

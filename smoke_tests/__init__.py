"""Smoke suite for a live DTMA agent: `pytest smoke_tests --host <droplet> --env-file .env`.

One test per promise the agent makes to the Agentopia backend and frontend. It talks to the
agent over HTTP only (and, when asked, over SSH), so it checks any deployed build.
"""

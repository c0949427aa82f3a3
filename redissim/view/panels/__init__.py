"""Panels of the scene, one module per part of the lesson's diagram.

Each module has ``draw(ctx, surface)`` for what changes with time and, where useful,
``draw_static(ctx, surface)`` for lines and labels drawn once into the cached background.
"""

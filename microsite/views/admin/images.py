"""images (being written)"""

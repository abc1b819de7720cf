"""Result views: each draws what the core computed; none computes itself."""

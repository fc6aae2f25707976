"""The mall's shop side: shops asked for by e-Pay merchants and approved by
operations, categories with the mall's commission, products with SKUs and images,
CSV import, and search that works for Chinese."""

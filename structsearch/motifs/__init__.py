"""The layered motif catalogue, motif placement and motif counts."""

from structsearch.graphs.motif_catalogue import MOTIFS, Motif, count_motifs, motif, place_motif

__all__ = ["MOTIFS", "Motif", "count_motifs", "motif", "place_motif"]

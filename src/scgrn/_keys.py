"""Every AnnData key scgrn writes or reads by default, in one place."""

DEEPSEM = "deepsem"


def embedding_key(key_added: str) -> str:
    """``adata.obsm`` key of a tool's cell embedding: ``"X_" + key_added``."""
    return f"X_{key_added}"


#: ``adata.obs`` column written by ``tl.leiden_matched``
LEIDEN_MATCHED = "leiden_matched"

"""The project's method: weighted-input EASE on the popular head plus text ridge models for everything else.

The item side (:meth:`HybridRecommender.fit_items`) is fitted once; any users are then encoded from their own
ratings (:meth:`HybridRecommender.encode`: fold-in, no refit) and scored in blocks. Memory is bounded by the
head: EASE needs a dense ``head x head`` matrix, so at most ``head_items`` of the most-rated items get one (20,000
by default: 1.6 GB of float32, about a minute of Cholesky on two cores); the other rated items are scored like
never-rated ones, from their text. On ml-latest-small the head holds every rated movie.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from movrec_pipeline.ranking.base import explain_shares_columns
from movrec_pipeline.ranking.ease import ease_weights
from movrec_pipeline.ranking.gram import cooccurrence
from movrec_pipeline.ranking.interactions import InteractionData, recency_weights
from movrec_pipeline.ranking.topk import normalize_rows, topk_rows


@dataclass
class UserInputs:
    """What the model reads of a set of users (rows follow the InteractionData they came from)."""

    query: sp.csr_matrix  # (U, A) recency x rating weights on the head items
    content: sp.csr_matrix  # (U, A) rating weights normalised to sum 1 per user, same pattern as ``query``
    seen: sp.csr_matrix  # (U, I) binary: what to exclude from rankings


class HybridRecommender:
    """The project's method: weighted-input EASE + text ridge models; non-head items get a reserved band.

    * Collaborative part, head items (the ``head_items`` most-rated): ``q_u B D`` with ``B`` = EASE (``lambda_``)
      on the binary matrix, ``D = diag(popularity ** -pop_beta)`` (lifts the long tail: coverage), and user
      input ``q_u`` = recency weight (``recency_floor + (1 - recency_floor) * 0.5 ** ((rank - 1) /
      recency_half_life)``, rank 1 = newest) x ``centered`` rating weight (ratings below the user's mean count
      less, see :func:`weight_ratings`).
    * Collaborative part, other items (never rated, or outside the head): a ridge regression (``text_alpha``,
      intercept) from head items' text vectors to the user's collaborative head scores, evaluated at the item's
      text vector: ``q_u B D R t_c`` with ``R = T_h (T_h' T_h + alpha I)^-1``.
    * Content part, head items: ``f_u * qbar_u R t_j``, a per-user ridge from text to the user's own
      (rating-weighted, normalised to sum 1) items, scaled per user so that its spread over the head is
      ``content_weight`` times that of the collaborative part. It follows long-term taste (genres, franchises)
      that the recency-weighted collaborative part misses.

    Everything is linear in the user's items, so explanations are exact. Non-head items have a much lower hit
    rate (about 1 % vs 10 % per slot on T80), so the ``protect_top`` best head items are never displaced: the
    ``cold_slots`` best others are placed right after them; the rest keep their score, capped below that band.
    Without text vectors the model is the collaborative head part only; items with neither rank last.
    """

    def __init__(
        self,
        lambda_: float = 200.0,
        recency_half_life: float = 3.0,
        recency_floor: float = 0.1,
        rating_weighting: str = "centered",
        pop_beta: float = 0.2,
        text_alpha: float = 10.0,
        content_weight: float = 0.3,
        cold_slots: int = 10,
        protect_top: int = 10,
        head_items: int = 20_000,
        name: str = "hybrid",
    ):
        self.lambda_, self.recency_half_life, self.recency_floor = lambda_, recency_half_life, recency_floor
        self.rating_weighting, self.pop_beta, self.text_alpha = rating_weighting, pop_beta, text_alpha
        self.content_weight, self.cold_slots, self.protect_top = content_weight, cold_slots, protect_top
        self.head_items, self.name = head_items, name

    # -- fitting ------------------------------------------------------------------------------------------------
    def fit(self, data: InteractionData, item_text_vectors: np.ndarray | None = None) -> HybridRecommender:
        """The item side from ``data``, and ``data``'s users encoded (what :meth:`score` reads)."""
        self.fit_items(data, item_text_vectors)
        self.users_ = self.encode(data)
        return self

    def fit_items(self, data: InteractionData, item_text_vectors: np.ndarray | None = None) -> HybridRecommender:
        """Head, EASE weights and text ridge: everything that does not depend on which users are scored."""
        self.n_items_ = data.n_items
        counts = data.item_counts()
        warm = np.flatnonzero(counts > 0)
        if len(warm) > self.head_items:  # the most-rated (ties: lower column), in column order
            warm = np.sort(warm[np.argsort(-counts[warm], kind="stable")[: self.head_items]])
        self.active_ = warm
        self._head_pos = None
        binary = data.seen().tocsc()[:, self.active_].tocsr()
        b = ease_weights(cooccurrence(binary), self.lambda_)
        b /= np.maximum(counts[self.active_], 1.0).astype(np.float32)[None, :] ** self.pop_beta
        self.w_ = b
        self.cold_ = np.zeros(0, np.int64)
        self.text_ = None
        if item_text_vectors is not None:
            text = normalize_rows(item_text_vectors)
            has_text = np.linalg.norm(text, axis=1) > 0
            self.text_ = np.hstack([text, np.ones((len(text), 1), np.float32)])  # intercept column
            in_head = np.zeros(data.n_items, bool)
            in_head[self.active_] = True
            self.cold_ = np.flatnonzero(~in_head & has_text)
            head_t = self.text_[self.active_].astype(np.float64)
            gram = head_t.T @ head_t
            gram[np.diag_indices_from(gram)] += self.text_alpha
            self.ridge_ = np.linalg.solve(gram, head_t.T).T.astype(np.float32)  # R: (A, d+1)
            self.w_cold_ = self.w_ @ self.ridge_  # (A, d+1): head scores -> ridge coefficients
            self.head_text_t_ = np.ascontiguousarray(self.text_[self.active_].T)  # (d+1, A)
            self.cold_text_t_ = np.ascontiguousarray(self.text_[self.cold_].T)  # (d+1, C)
        return self

    SETTINGS = ("lambda_", "recency_half_life", "recency_floor", "rating_weighting", "pop_beta", "text_alpha",
                "content_weight", "cold_slots", "protect_top", "head_items", "name")

    def item_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        """The fitted item side as arrays and settings (to store it; :meth:`from_item_arrays` reads it back)."""
        arrays = {"active": self.active_, "w": self.w_, "cold": self.cold_}
        if self.text_ is not None:
            arrays.update(text=self.text_, ridge=self.ridge_, w_cold=self.w_cold_)
        return arrays, {"n_items": int(self.n_items_), **{k: getattr(self, k) for k in self.SETTINGS}}

    @classmethod
    def from_item_arrays(cls, arrays: dict[str, np.ndarray], meta: dict) -> HybridRecommender:
        model = cls(**{k: meta[k] for k in cls.SETTINGS})
        model.n_items_, model.active_, model.w_ = meta["n_items"], arrays["active"], arrays["w"]
        model.cold_ = arrays["cold"]
        model.text_ = arrays.get("text")
        if model.text_ is not None:
            model.ridge_, model.w_cold_ = arrays["ridge"], arrays["w_cold"]
            model.head_text_t_ = np.ascontiguousarray(model.text_[model.active_].T)
            model.cold_text_t_ = np.ascontiguousarray(model.text_[model.cold_].T)
        return model

    def encode(self, data: InteractionData) -> UserInputs:
        """The model's inputs for ``data``'s users (fold-in: only their own ratings are read, no refit).

        ``data`` must share the catalogue (``item_ids``) the items were fitted on.
        """
        rating_w = data.weighted(self.rating_weighting) if data.ratings is not None else data.matrix
        rating_w = rating_w.data.astype(np.float32)  # aligned with data.matrix.data
        counts_u = np.diff(data.matrix.indptr)
        sums = np.add.reduceat(rating_w, data.matrix.indptr[:-1]) if rating_w.size else np.zeros(0)
        sums = np.repeat(np.where(sums > 0, sums, 1.0), counts_u) if rating_w.size else sums
        # slice the entry positions (never zero, never dropped) so all user inputs stay aligned
        pos = data.matrix.copy()
        pos.data = np.arange(1, pos.nnz + 1, dtype=np.float64)
        pos = pos.tocsc()[:, self.active_].tocsr()
        take = pos.data.astype(np.int64) - 1
        recency = recency_weights(data, self.recency_half_life, self.recency_floor)
        shape = (data.n_users, len(self.active_))
        query = sp.csr_matrix(((rating_w * recency)[take], pos.indices, pos.indptr), shape=shape)
        content = sp.csr_matrix(((rating_w / sums)[take].astype(np.float32), pos.indices, pos.indptr), shape=shape)
        return UserInputs(query, content, data.seen())

    # -- scoring ------------------------------------------------------------------------------------------------
    def score(self, user_rows: np.ndarray) -> np.ndarray:
        return self.score_users(self.users_, user_rows)

    def scores_for(self, data: InteractionData, user_rows: np.ndarray) -> np.ndarray:
        """Fold-in: users not fitted on, encoded from their own ratings in ``data`` (encoded once per ``data``)."""
        if getattr(self, "_folded", (None,))[0] is not data:
            self._folded = (data, self.encode(data))
        return self.score_users(self._folded[1], user_rows)

    def score_users(self, users: UserInputs, user_rows: np.ndarray) -> np.ndarray:
        """(n, I) float32 scores of ``users``' rows ``user_rows`` (seen items not excluded)."""
        return self.score_and_scale(users, user_rows)[0]

    def score_and_scale(self, users: UserInputs, user_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores as :meth:`score_users`, and each user's content scale (what :meth:`explain_users` needs)."""
        user_rows = np.asarray(user_rows)
        n = len(user_rows)
        warm, scale = self._head_scores(users, user_rows)
        out = np.empty((n, self.n_items_), np.float32)
        floor = warm.min(axis=1, initial=0.0) - 1.0
        out[:] = floor[:, None]
        out[:, self.active_] = warm
        if len(self.cold_) == 0:
            return out, scale
        cold = np.asarray(users.query[user_rows] @ self.w_cold_) @ self.cold_text_t_
        # protected top-k boundary over unseen head items
        masked = warm.copy()
        seen = users.seen[user_rows].tocsc()[:, self.active_].tocoo()
        masked[seen.row, seen.col] = -np.inf
        k = min(self.protect_top, masked.shape[1] - 1)
        if k < 1:
            out[:, self.cold_] = np.minimum(cold, floor[:, None] + 0.5)
            return out, scale
        part = -np.partition(-masked, (k - 1, k), axis=1)
        hi, lo = part[:, k - 1], part[:, k]  # k-th and (k+1)-th best unseen head scores
        hi = np.where(np.isfinite(hi), hi, floor + 0.75)
        lo = np.where(np.isfinite(lo), lo, hi - 0.25)
        cap = np.nextafter(lo, np.float32(-np.inf))
        out[:, self.cold_] = np.minimum(np.maximum(cold, (floor + 0.5)[:, None]), cap[:, None])
        m = min(self.cold_slots, len(self.cold_))
        if m > 0:
            unseen_cold = cold.copy()  # a rated non-head item is seen: it must not take a band slot
            seen_cold = users.seen[user_rows].tocsc()[:, self.cold_].tocoo()
            unseen_cold[seen_cold.row, seen_cold.col] = -np.inf
            best = np.argpartition(-unseen_cold, m - 1, axis=1)[:, :m]
            order = np.argsort(-np.take_along_axis(unseen_cold, best, axis=1), axis=1, kind="stable")
            best = np.take_along_axis(best, order, axis=1)
            frac = (m - np.arange(m, dtype=np.float32)) / (m + 1)  # strictly inside (lo, hi)
            band = lo[:, None] + (hi - lo)[:, None] * frac[None, :]
            out[np.arange(n)[:, None], self.cold_[best]] = band
        return out, scale

    def top_unseen(self, users: UserInputs, user_rows: np.ndarray, k: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each user's ``k`` best unseen items (item columns, scores; best first) and content scales: the same
        lists as ranking :meth:`score_and_scale` with seen items excluded. When ``k <= protect_top`` and every
        user has ``k`` unseen head items, the lists hold head items only (the others are capped below the
        (``protect_top`` + 1)-th head score), so only the head is scored: about a quarter of the work at ML-32M
        size. Otherwise the whole catalogue is scored."""
        user_rows = np.asarray(user_rows)
        warm, scale = self._head_scores(users, user_rows)
        seen = users.seen[user_rows].tocoo()
        pos = self._head_positions()[seen.col]
        in_head = pos >= 0
        unseen_head = len(self.active_) - np.bincount(seen.row[in_head], minlength=len(user_rows))
        if k <= self.protect_top and (unseen_head >= k).all():
            warm[seen.row[in_head], pos[in_head]] = -np.inf
            idx, top = topk_rows(warm, k)
            return self.active_[idx], top, scale
        scores, scale = self.score_and_scale(users, user_rows)
        scores[seen.row, seen.col] = -np.inf
        idx, top = topk_rows(scores, k)
        return idx, top, scale

    def _head_positions(self) -> np.ndarray:
        """Each item column's position in the head, -1 outside it (built once per fitted or loaded model)."""
        if getattr(self, "_head_pos", None) is None or len(self._head_pos) != self.n_items_:
            self._head_pos = np.full(self.n_items_, -1, np.int64)
            self._head_pos[self.active_] = np.arange(len(self.active_))
        return self._head_pos

    def _head_scores(self, users: UserInputs, user_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Collaborative plus scaled content scores (n, A) of the head items, and the per-user content scale."""
        warm = np.asarray(users.query[user_rows] @ self.w_, dtype=np.float32)
        scale = np.zeros(len(user_rows), np.float32)
        if self.text_ is not None:
            taste = self._taste(users, user_rows)
            scale = self._content_scale(warm, taste).astype(np.float32)
            warm += scale[:, None] * taste
        return warm, scale

    def _taste(self, users: UserInputs, user_rows: np.ndarray) -> np.ndarray:
        """Unscaled content scores (n, A) of the head items."""
        return np.asarray(users.content[user_rows] @ self.ridge_) @ self.head_text_t_

    def _content_scale(self, collab: np.ndarray, taste: np.ndarray) -> np.ndarray:
        """Per-user factor: ``content_weight * std(collaborative) / std(content)`` over the head items."""
        spread = taste.std(axis=1)
        return np.where(spread > 0, self.content_weight * collab.std(axis=1) / np.maximum(spread, 1e-30), 0.0)

    # -- explanations -------------------------------------------------------------------------------------------
    def explain(self, user_row: int, item_col: int, top: int = 3) -> list[tuple[int, float]]:
        return self.explain_users(self.users_, np.array([user_row]), np.array([[item_col]]), top)[0][0]

    def explain_users(self, users: UserInputs, user_rows: np.ndarray, item_cols: np.ndarray, top: int = 3,
                      scale: np.ndarray | None = None) -> list[list[list[tuple[int, float]]]]:
        """For each user row and each of its items (``item_cols``: (n, k)), the rated items that contribute most,
        as (item col, share of the positive contributions). Exact: the scores are linear in the user's items.
        ``scale``: the users' content scales from :meth:`score_and_scale` (computed again when not given)."""
        user_rows = np.asarray(user_rows)
        if scale is None:
            scale = self._head_scores(users, user_rows)[1]
        head_pos = self._head_positions()
        is_cold = np.zeros(self.n_items_, bool)
        is_cold[self.cold_] = True
        out = []
        for n, row in enumerate(user_rows.tolist()):
            q, qbar = users.query[row], users.content[row].data
            cols = self.active_[q.indices]
            items = np.asarray(item_cols[n])
            pos = head_pos[items]
            in_head, cold = pos >= 0, is_cold[items] & (pos < 0)
            contrib = np.zeros((len(q.indices), len(items)), np.float32)  # (user's items, explained items)
            if in_head.any():
                contrib[:, in_head] = q.data[:, None] * self.w_[np.ix_(q.indices, pos[in_head])]
            if self.text_ is not None and (cold.any() or scale[n]):
                text = self.text_[items].T  # (d+1, k)
                if scale[n] and in_head.any():
                    contrib[:, in_head] += scale[n] * qbar[:, None] * (self.ridge_[q.indices] @ text[:, in_head])
                if cold.any():
                    contrib[:, cold] = q.data[:, None] * (self.w_cold_[q.indices] @ text[:, cold])
            shares = explain_shares_columns(cols, contrib, top)
            out.append([shares[j] if in_head[j] or cold[j] else [] for j in range(len(items))])
        return out

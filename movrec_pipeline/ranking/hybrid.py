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
import pandas as pd
import scipy.sparse as sp

from movrec_pipeline.ranking.base import explain_shares_columns
from movrec_pipeline.ranking.calibration import Calibration, merge_ranked
from movrec_pipeline.ranking.ease import ease_weights
from movrec_pipeline.ranking.gram import cooccurrence
from movrec_pipeline.ranking.interactions import InteractionData, head_of, recency_weights
from movrec_pipeline.ranking.topk import normalize_rows, topk_rows


class EaseCache:
    """The head of ``data`` (its ``head_items`` most-rated items, in column order), its Gram matrix computed once,
    and EASE weights per regularisation (each solved once): what models differing only in other settings share
    (``shared``); a model fitted alone solves the Gram in place (one head x head matrix in memory)."""

    def __init__(self, data: InteractionData, head_items: int, shared: bool = False):
        self.data, self.head_items, self.shared = data, head_items, shared
        self.head = head_of(data.item_counts(), head_items)  # the most-rated (ties: lower column), column order
        self._gram: np.ndarray | None = None
        self._solved: dict[float, np.ndarray] = {}

    def weights(self, lambda_: float, keep: bool | None = None) -> np.ndarray:
        """EASE weights (head x head) for ``lambda_``, a copy the caller may change. ``keep`` (default: the cache
        is ``shared``): hold the Gram matrix and these weights for later calls (memory: one more head x head
        matrix per regularisation); otherwise the Gram is solved in place."""
        keep = self.shared if keep is None else keep
        if lambda_ in self._solved:
            return self._solved[lambda_].copy()
        gram = self._gram if self._gram is not None else cooccurrence(
            self.data.seen().tocsc()[:, self.head].tocsr())
        if not keep:  # consumed: a later call computes the Gram again
            self._gram = None
            return ease_weights(gram, lambda_)
        self._gram = gram
        self._solved[lambda_] = ease_weights(gram.copy(), lambda_)
        return self._solved[lambda_].copy()


MERGE_DEPTH = 50  # ranks of each list the calibration learns (beyond it, the last rank's probability)


@dataclass
class UserInputs:
    """What the model reads of a set of users (rows follow the InteractionData they came from)."""

    query: sp.csr_matrix  # (U, A) recency x rating weights on the head items
    content: sp.csr_matrix  # (U, A) rating weights normalised to sum 1 per user, same pattern as ``query``
    seen: sp.csr_matrix  # (U, I) binary: what to exclude from rankings


class HybridRecommender:
    """The project's method: weighted-input EASE + text ridge models, head and cold lists merged by calibration.

    * Collaborative part, head items (the ``head_items`` most-rated): ``q_u B D`` with ``B`` = EASE (``lambda_``)
      on the binary matrix, ``D = diag(popularity ** -pop_beta)`` (lifts the long tail: coverage), and user
      input ``q_u`` = recency weight (``recency_floor + (1 - recency_floor) * 0.5 ** ((rank - 1) /
      recency_half_life)``, rank 1 = newest; ``recency_half_life`` 0 = no recency) x rating weight
      (``rating_weighting``: ``centered`` counts ratings below the user's mean less, ``binary`` counts all alike).
    * Collaborative part, other items (never rated, or outside the head): a ridge regression (``text_alpha``,
      intercept) from head items' text vectors to the user's collaborative head scores, evaluated at the item's
      text vector: ``q_u B D R t_c`` with ``R = T_h (T_h' T_h + alpha I)^-1``.
    * Content part, head items: ``f_u * qbar_u R t_j``, a per-user ridge from text to the user's own
      (rating-weighted, normalised to sum 1) items, scaled per user so that its spread over the head is
      ``content_weight`` times that of the collaborative part. It follows long-term taste (genres, franchises)
      that the recency-weighted collaborative part misses.
    * Popularity prior, head items: ``prior_weight * std_u * prior_half / (prior_half + n_u) * z(log(1 + count))``,
      added to the head scores (``std_u``: the spread of the user's head scores, ``n_u``: items the user rated).
      It fades as a history grows: what a user with one or three ratings is shown leans on what most people
      watch, a long history barely moves. ``prior_weight`` 0 (the default) turns it off.

    Everything is linear in the user's items, so explanations are exact. Head and cold items are ranked in two
    lists and merged by the hit probability of each rank, learnt on a validation split (:meth:`calibrate`): no
    places are reserved. With ``lambda_`` tuned, ``recency_half_life`` 0, ``binary`` weights, ``pop_beta`` 0 and
    ``content_weight`` 0 the head part is exactly EASE. Without text vectors the model is the collaborative head
    part only; items with neither rank last.
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
        head_items: int = 20_000,
        name: str = "hybrid",
        prior_weight: float = 0.0,
        prior_half: float = 3.0,
    ):
        self.lambda_, self.recency_half_life, self.recency_floor = lambda_, recency_half_life, recency_floor
        self.rating_weighting, self.pop_beta, self.text_alpha = rating_weighting, pop_beta, text_alpha
        self.content_weight, self.head_items, self.name = content_weight, head_items, name
        self.prior_weight, self.prior_half = prior_weight, prior_half
        self.calibration_: Calibration | None = None

    # -- fitting ------------------------------------------------------------------------------------------------
    def fit(self, data: InteractionData, item_text_vectors: np.ndarray | None = None,
            ease: EaseCache | None = None) -> HybridRecommender:
        """The item side from ``data``, and ``data``'s users encoded (what :meth:`score` reads)."""
        self.fit_items(data, item_text_vectors, ease)
        self.users_ = self.encode(data)
        return self

    def fit_items(self, data: InteractionData, item_text_vectors: np.ndarray | None = None,
                  ease: EaseCache | None = None) -> HybridRecommender:
        """Head, EASE weights and text ridge: everything that does not depend on which users are scored.
        ``ease``: the EASE weights of this data's head, shared between models that differ in other settings."""
        self.n_items_ = data.n_items
        counts = data.item_counts()
        ease = ease if ease is not None and ease.data is data and ease.head_items == self.head_items else EaseCache(
            data, self.head_items)
        self.active_ = ease.head
        self._head_pos = None
        self.calibration_ = None
        b = ease.weights(self.lambda_)
        b /= np.maximum(counts[self.active_], 1.0).astype(np.float32)[None, :] ** self.pop_beta
        self.w_ = b
        self.prior_ = popularity_prior(counts[self.active_])
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
                "content_weight", "head_items", "name", "prior_weight", "prior_half")

    def item_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        """The fitted item side as arrays and settings (to store it; :meth:`from_item_arrays` reads it back)."""
        arrays = {"active": self.active_, "w": self.w_, "cold": self.cold_, "prior": self.prior_}
        if self.text_ is not None:
            arrays.update(text=self.text_, ridge=self.ridge_, w_cold=self.w_cold_)
        if self.calibration_ is not None:
            arrays.update(self.calibration_.as_arrays())
        return arrays, {"n_items": int(self.n_items_), **{k: getattr(self, k) for k in self.SETTINGS}}

    @classmethod
    def from_item_arrays(cls, arrays: dict[str, np.ndarray], meta: dict) -> HybridRecommender:
        model = cls(**{k: meta[k] for k in cls.SETTINGS if k in meta})  # models stored before the prior lack it
        model.calibration_ = Calibration.from_arrays(arrays)
        model.n_items_, model.active_, model.w_ = meta["n_items"], arrays["active"], arrays["w"]
        model.prior_ = arrays.get("prior", np.zeros(len(model.active_), np.float32))
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
        return self.score_users(self._encoded(data), user_rows)

    def _encoded(self, data: InteractionData | None) -> UserInputs:
        if data is None:
            return self.users_
        if getattr(self, "_folded", (None,))[0] is not data:
            self._folded = (data, self.encode(data))
        return self._folded[1]

    def score_users(self, users: UserInputs, user_rows: np.ndarray) -> np.ndarray:
        """(n, I) float32 scores of ``users``' rows ``user_rows`` whose ranking of unseen items is
        :meth:`top_unseen`'s for its first :data:`MERGE_DEPTH` places (those get 2 + a decreasing step), the
        other head items follow in [1, 2), the other cold items in [0, 1); seen items are not excluded."""
        user_rows = np.asarray(user_rows)
        warm, _ = self._head_scores(users, user_rows)
        out = np.zeros((len(user_rows), self.n_items_), np.float32)
        out[:, self.active_] = 1.0 + 0.999 * _unit(warm)
        if len(self.cold_):
            out[:, self.cold_] = 0.999 * _unit(self._cold_scores(users, user_rows))
        depth = min(MERGE_DEPTH, self.n_items_)
        idx, _, _ = self.top_unseen(users, user_rows, depth)
        rows, places = np.nonzero(idx >= 0)
        out[rows, idx[rows, places]] = 2.0 + (depth - places) / depth
        return out

    def rank_unseen(self, data: InteractionData | None, k: int, block: int = 1024) -> np.ndarray:
        """(users, k) item columns of every user's :meth:`top_unseen` list (-1 past the end), for ``data``'s users
        folded in, or the fitted users when ``data`` is None."""
        users = self._encoded(data)
        n = users.query.shape[0]
        out = np.full((n, k), -1, np.int64)
        for lo in range(0, n, block):
            rows = np.arange(lo, min(lo + block, n))
            out[rows] = self.top_unseen(users, rows, k)[0]
        return out

    def top_unseen(self, users: UserInputs, user_rows: np.ndarray, k: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each user's ``k`` best unseen items (item columns, -1 past the end; scores; best first) and content scales.

        Head items are ranked by their collaborative + content score, the other items with text (never rated, or
        outside the head) by their text-based score; the two lists are merged by the calibrated hit probability
        of each rank (:class:`~movrec_pipeline.ranking.calibration.Calibration`, learnt on validation), which is
        then the score. Only when a cold title can reach the top ``k`` (its best rank's probability beats the
        ``k``-th head item's), or a user has fewer than ``k`` unseen head items, are the cold items scored at all.
        Without a calibration the head ranks first, by its raw scores, and cold items only fill short lists.
        """
        user_rows = np.asarray(user_rows)
        warm, scale = self._head_scores(users, user_rows)
        seen = users.seen[user_rows].tocoo()
        pos = self._head_positions()[seen.col]
        in_head = pos >= 0
        warm[seen.row[in_head], pos[in_head]] = -np.inf
        w_idx, w_top = topk_rows(warm, min(k, warm.shape[1]))
        w_cols = self.active_[w_idx].astype(np.int64)
        cal = self.calibration_
        warm_keys = (np.where(np.isfinite(w_top), cal.warm_at(np.arange(w_top.shape[1]))[None, :], -np.inf)
                     if cal is not None else w_top.astype(np.float64))
        short = w_top.shape[1] < k or not np.isfinite(w_top[:, -1]).all()
        if len(self.cold_) == 0 or not (short or (cal is not None and cal.cold_can_enter(k))):
            cols, keys = merge_ranked(w_cols, warm_keys, np.zeros((len(user_rows), 0), np.int64),
                                      np.zeros((len(user_rows), 0)), k)
            return cols, keys.astype(np.float32), scale
        cold = self._cold_scores(users, user_rows)
        seen_cold = users.seen[user_rows].tocsc()[:, self.cold_].tocoo()
        cold[seen_cold.row, seen_cold.col] = -np.inf
        c_idx, c_top = topk_rows(cold, min(k, cold.shape[1]))
        if cal is not None:
            cold_keys = np.where(np.isfinite(c_top), cal.cold_at(np.arange(c_top.shape[1]))[None, :], -np.inf)
        else:  # uncalibrated: after every head item
            cold_keys = np.where(np.isfinite(c_top), -1e30 - np.arange(c_top.shape[1])[None, :], -np.inf)
        cols, keys = merge_ranked(w_cols, warm_keys, self.cold_[c_idx].astype(np.int64), cold_keys, k)
        return cols, np.where(keys > -1e29, keys, np.nan).astype(np.float32), scale

    def calibrate(self, data: InteractionData, validation: pd.DataFrame, depth: int = MERGE_DEPTH,
                  block: int = 1024) -> Calibration | None:
        """Learn the warm and cold hit probabilities by rank on ``validation`` (ratings of ``data``'s users that
        ``data`` does not hold) and use them from now on; None (head first) when nothing cold exists."""
        self.calibration_ = None
        if len(self.cold_) == 0 or len(validation) == 0:
            return None
        users = self._encoded(data)
        relevant = _relevant_columns(data, validation)
        rows = np.array(sorted(relevant), np.int64)
        warm_ranked, cold_ranked = [], []
        for lo in range(0, len(rows), block):
            chunk = rows[lo:lo + block]
            warm, _ = self._head_scores(users, chunk)
            seen = users.seen[chunk]
            head_seen = seen.tocsc()[:, self.active_].tocoo()
            warm[head_seen.row, head_seen.col] = -np.inf
            cold = self._cold_scores(users, chunk)
            cold_seen = seen.tocsc()[:, self.cold_].tocoo()
            cold[cold_seen.row, cold_seen.col] = -np.inf
            for scores, cols, out in ((warm, self.active_, warm_ranked), (cold, self.cold_, cold_ranked)):
                idx, top = topk_rows(scores, min(depth, scores.shape[1]))
                out.append(np.where(np.isfinite(top), cols[idx], -1))
        self.calibration_ = Calibration.fit(np.vstack(warm_ranked), np.vstack(cold_ranked),
                                            [relevant[r] for r in rows.tolist()])
        return self.calibration_

    def _cold_scores(self, users: UserInputs, user_rows: np.ndarray) -> np.ndarray:
        """Text-based scores (n, C) of the items outside the head that have a text vector."""
        return np.asarray(users.query[user_rows] @ self.w_cold_) @ self.cold_text_t_

    def _head_positions(self) -> np.ndarray:
        """Each item column's position in the head, -1 outside it (built once per fitted or loaded model)."""
        if getattr(self, "_head_pos", None) is None or len(self._head_pos) != self.n_items_:
            self._head_pos = np.full(self.n_items_, -1, np.int64)
            self._head_pos[self.active_] = np.arange(len(self.active_))
        return self._head_pos

    def _head_scores(self, users: UserInputs, user_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Collaborative plus scaled content scores (n, A) of the head items, the fading popularity prior added,
        and the per-user content scale."""
        warm = np.asarray(users.query[user_rows] @ self.w_, dtype=np.float32)
        scale = np.zeros(len(user_rows), np.float32)
        if self.text_ is not None:
            taste = self._taste(users, user_rows)
            scale = self._content_scale(warm, taste).astype(np.float32)
            warm += scale[:, None] * taste
        if self.prior_weight:
            history = np.diff(users.seen.indptr)[user_rows].astype(np.float32)  # row lengths, no slice
            spread = warm.std(axis=1)
            spread = np.where(spread > 0, spread, 1.0)  # no history: the prior alone ranks
            fade = self.prior_half / (self.prior_half + history)
            warm += (self.prior_weight * fade * spread)[:, None] * self.prior_[None, :]
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
        as (item col, share of the positive contributions). Exact: the scores are linear in the user's items (the
        popularity prior belongs to no rated item and is left out of the shares).
        ``scale``: the users' content scales from :meth:`top_unseen` (computed again when not given)."""
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
            present = items >= 0  # -1: past the end of a short list
            items = np.where(present, items, 0)
            pos = np.where(present, head_pos[items], -1)
            in_head, cold = pos >= 0, present & is_cold[items] & (pos < 0)
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


def popularity_prior(counts: np.ndarray) -> np.ndarray:
    """``log(1 + count)`` standardised over the given items (mean 0, std 1; zeros when all are alike)."""
    logs = np.log1p(np.asarray(counts, np.float64))
    spread = logs.std()
    return ((logs - logs.mean()) / spread if spread > 0 else np.zeros_like(logs)).astype(np.float32)


def _unit(scores: np.ndarray) -> np.ndarray:
    """Each row mapped monotonically into [0, 1) (-inf stays lowest)."""
    finite = np.where(np.isfinite(scores), scores, np.nan)
    lo, hi = np.nanmin(finite, axis=1, initial=np.inf), np.nanmax(finite, axis=1, initial=-np.inf)
    lo, span = np.where(np.isfinite(lo), lo, 0.0), np.where(hi > lo, hi - lo, 1.0)
    return np.nan_to_num((finite - lo[:, None]) / span[:, None] * 0.999, nan=0.0).astype(np.float32)


def _relevant_columns(data: InteractionData, ratings: pd.DataFrame) -> dict[int, np.ndarray]:
    """``data`` row -> item columns of that user's ``ratings`` (users and items outside ``data`` dropped)."""
    users, movies = ratings["user_id"].to_numpy(), ratings["movie_id"].to_numpy()
    rows = np.minimum(np.searchsorted(data.user_ids, users), max(data.n_users - 1, 0))
    cols = np.minimum(np.searchsorted(data.item_ids, movies), max(data.n_items - 1, 0))
    ok = (data.user_ids[rows] == users) & (data.item_ids[cols] == movies)
    frame = pd.DataFrame({"row": rows[ok], "col": cols[ok]})
    return {int(r): g.to_numpy() for r, g in frame.groupby("row")["col"]}

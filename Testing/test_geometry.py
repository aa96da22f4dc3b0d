import numpy as np

from LVScarSegLogic.geometry import Grid, lps_to_ras_matrix, lps_to_ras_points, ras_to_lps_points
from conftest import oblique_grid


def test_lps_ras_points_flip_first_two_axes_and_round_trip():
    p = np.array([[1.0, 2.0, 3.0], [-4.0, 5.5, -6.0]])
    ras = lps_to_ras_points(p)
    np.testing.assert_array_equal(ras, [[-1, -2, 3], [4, -5.5, -6]])
    np.testing.assert_array_equal(ras_to_lps_points(ras), p)


def test_ijk_to_ras_matrix_matches_point_conversion():
    g = oblique_grid()
    ijk = np.array([[1.0, 2.0, 3.0, 1.0]])
    via_matrix = (g.ijk_to_ras @ ijk.T).T[0, :3]
    via_points = lps_to_ras_points(g.ijk_to_lps_points(ijk[:, :3]))[0]
    np.testing.assert_allclose(via_matrix, via_points, atol=1e-12)
    np.testing.assert_allclose(lps_to_ras_matrix(g.ijk_to_lps)[2], g.ijk_to_lps[2])


def test_grid_axes_have_the_stated_spacing_and_round_trip_indices():
    g = oblique_grid()
    m = g.ijk_to_lps
    np.testing.assert_allclose(np.linalg.norm(m[:3, :3], axis=0), g.spacing)
    pts = g.ijk_to_lps_points([[0, 0, 0], [7, 6, 5], [2.5, 1.5, 0.5]])
    np.testing.assert_allclose(pts[0], g.origin)
    np.testing.assert_allclose(g.lps_to_ijk(pts), [[0, 0, 0], [7, 6, 5], [2.5, 1.5, 0.5]], atol=1e-9)


def test_ras_seed_maps_to_nearest_voxel_in_kji_order():
    g = oblique_grid()
    lps = g.ijk_to_lps_points([[3, 4, 2]])[0]
    ras = lps_to_ras_points(lps) + 0.1  # a little off-centre still picks the same voxel
    assert g.ras_to_kji_index(ras) == (2, 4, 3)
    assert g.contains_kji((2, 4, 3)) and not g.contains_kji((6, 0, 0))


def test_voxel_volume_and_same_as():
    g = Grid.make((2, 3, 4), (0.5, 2.0, 4.0), (0, 0, 0), np.eye(3))
    assert g.voxel_volume_ml == 0.004
    assert g.size_ijk == (4, 3, 2)
    assert g.same_as(Grid.make((2, 3, 4), (0.5, 2.0, 4.0), (0, 0, 1e-6), np.eye(3)))
    assert not g.same_as(Grid.make((2, 3, 4), (0.5, 2.0, 4.0), (0, 0, 0.1), np.eye(3)))

"""Slicer .seg.nrrd output and every kind of label input, on the image grid."""
from pathlib import Path

import numpy as np
import pytest
import slicerio

from LVScarSegLogic import labels as L
from LVScarSegLogic.errors import InputError
from LVScarSegLogic.geometry import Grid
from LVScarSegLogic.segio import read_label_codes, write_segmentation
from LVScarSegLogic.volume import read_volume, write_volume
from conftest import oblique_grid


def _codes(grid):
    codes = np.zeros(grid.shape, dtype=np.uint8)
    codes[1:5, 2:6, 2:7] = L.MYOCARDIUM
    codes[2:4, 3:5, 3:5] = L.SCAR
    codes[2, 3, 3] = L.MVO
    codes[1, 2, 2] = L.GRAYZONE
    codes[5, 1, 1] = L.BLOODPOOL
    return codes


def test_seg_nrrd_has_contract_segments_terminology_and_exact_geometry(tmp_path):
    grid = oblique_grid()
    codes = _codes(grid)
    path = tmp_path / "out.seg.nrrd"
    write_segmentation(path, codes, grid)
    seg = slicerio.read_segmentation(str(path))
    np.testing.assert_allclose(seg["ijkToLPS"], grid.ijk_to_lps, atol=1e-9, rtol=0)
    assert seg["voxels"].shape == grid.size_ijk  # slicerio's (i, j, k) order
    ids = [s["id"] for s in seg["segments"]]
    assert ids == ["bloodpool", "myocardium", "grayzone", "scar", "mvo"]
    for s in seg["segments"]:
        d = L.SEGMENTS[s["id"]]
        assert s["name"] == d.name and s["labelValue"] == d.code and s["layer"] == 0
        np.testing.assert_allclose(s["color"], d.color, atol=1e-6)
        assert s["terminology"]["type"][1] == d.type[1]
        mask = slicerio.segment_mask(seg, s["id"]).transpose(2, 1, 0)
        np.testing.assert_array_equal(mask, codes == d.code)
    myo = next(s for s in seg["segments"] if s["id"] == "myocardium")
    assert myo["terminology"]["type"] == ["SCT", "74281007", "Myocardium"]
    assert next(s for s in seg["segments"] if s["id"] == "scar")["terminology"]["type"][1] == "12402003"
    # Extent (i, j, k) of the scar segment matches where the scar is.
    scar = next(s for s in seg["segments"] if s["id"] == "scar")
    assert scar["extent"] == [3, 4, 3, 4, 2, 3]
    back, _ = read_label_codes(path, grid)
    np.testing.assert_array_equal(back, codes)


def test_empty_optional_segments_are_left_out_but_scar_always_written(tmp_path):
    grid = oblique_grid()
    codes = np.zeros(grid.shape, dtype=np.uint8)
    codes[2:4, 2:4, 2:4] = L.MYOCARDIUM
    write_segmentation(tmp_path / "o.seg.nrrd", codes, grid)
    seg = slicerio.read_segmentation(str(tmp_path / "o.seg.nrrd"))
    assert [s["id"] for s in seg["segments"]] == ["myocardium", "scar"]


@pytest.mark.parametrize("ext", [".nrrd", ".nii.gz", ".mha"])
def test_coded_labelmap_output_round_trips(tmp_path, ext):
    grid = oblique_grid()
    codes = _codes(grid)
    write_segmentation(tmp_path / f"o{ext}", codes, grid)
    vol = read_volume(tmp_path / f"o{ext}")
    assert vol.array.dtype == np.uint8
    np.testing.assert_array_equal(vol.array, codes)


def test_binary_and_float_masks_are_myocardium(tmp_path):
    grid = oblique_grid()
    mask = np.zeros(grid.shape, dtype=np.float32)
    mask[2:4, 2:5, 2:6] = 255.0
    write_volume(tmp_path / "m.nii.gz", mask, grid)
    codes, warnings = read_label_codes(tmp_path / "m.nii.gz", grid)
    np.testing.assert_array_equal(codes, np.where(mask > 0, L.MYOCARDIUM, 0))
    assert warnings == []
    mask[3, 3, 3] = 0.5
    write_volume(tmp_path / "frac.nrrd", mask, grid)
    with pytest.raises(InputError, match="non-integer"):
        read_label_codes(tmp_path / "frac.nrrd", grid)


def test_unknown_label_values_and_empty_masks_are_refused(tmp_path):
    grid = oblique_grid()
    m = np.zeros(grid.shape, dtype=np.int16)
    write_volume(tmp_path / "empty.nrrd", m, grid)
    with pytest.raises(InputError, match="is empty"):
        read_label_codes(tmp_path / "empty.nrrd", grid)
    m[1, 1, 1], m[2, 2, 2] = 2, 17
    write_volume(tmp_path / "odd.nrrd", m, grid)
    with pytest.raises(InputError, match="EMIDEC"):
        read_label_codes(tmp_path / "odd.nrrd", grid)


def test_mask_on_another_grid_is_resampled_with_a_warning(tmp_path):
    grid = Grid.make((20, 20, 20), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3))
    coarse = Grid.make((10, 10, 10), (2.0, 2.0, 2.0), (0.5, 0.5, 0.5), np.eye(3))
    m = np.zeros(coarse.shape, dtype=np.uint8)
    m[3:6, 3:6, 3:6] = 1
    write_volume(tmp_path / "coarse.nrrd", m, coarse)
    codes, warnings = read_label_codes(tmp_path / "coarse.nrrd", grid)
    assert any("resampled" in w for w in warnings)
    assert codes[9, 9, 9] == L.MYOCARDIUM and codes[2, 2, 2] == 0
    assert (codes > 0).sum() == pytest.approx(6 ** 3, rel=0.3)


def test_mask_outside_the_image_is_refused(tmp_path):
    grid = Grid.make((20, 20, 20), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3))
    far = Grid.make((5, 5, 5), (1.0, 1.0, 1.0), (500.0, 0.0, 0.0), np.eye(3))
    write_volume(tmp_path / "far.nrrd", np.ones(far.shape, np.uint8), far)
    with pytest.raises(InputError, match="does not overlap"):
        read_label_codes(tmp_path / "far.nrrd", grid)


def _hand_drawn_header(grid_origin, spacing, layers, segments):
    """A .seg.nrrd header as Slicer writes it: cropped extent, several layers, Segment_N IDs, names only."""
    header = {
        "type": "unsigned char", "dimension": 4, "space": "left-posterior-superior",
        "kinds": ["list", "domain", "domain", "domain"],
        "space directions": np.array([[np.nan] * 3, [spacing[0], 0, 0], [0, spacing[1], 0], [0, 0, spacing[2]]]),
        "space origin": np.array(grid_origin, dtype=float), "encoding": "gzip",
        "Segmentation_MasterRepresentation": "Binary labelmap",
        "Segmentation_ContainedRepresentationNames": "Binary labelmap|Closed surface|",
        "Segmentation_ReferenceImageExtentOffset": "4 5 2",
    }
    for n, (sid, name, layer, value) in enumerate(segments):
        header.update({f"Segment{n}_ID": sid, f"Segment{n}_Name": name, f"Segment{n}_Layer": str(layer),
                       f"Segment{n}_LabelValue": str(value), f"Segment{n}_Color": "0.5 0.5 0.5",
                       f"Segment{n}_NameAutoGenerated": "0", f"Segment{n}_ColorAutoGenerated": "1",
                       f"Segment{n}_Extent": "0 1 0 1 0 1",
                       f"Segment{n}_Tags": "Segmentation.Status:inprogress|"})
    return header


def test_hand_drawn_slicer_segmentation_with_layers_and_cropped_extent(tmp_path):
    import nrrd

    grid = Grid.make((16, 18, 20), (0.8, 0.8, 2.0), (-10.0, 20.0, 5.0), np.eye(3))
    # Slicer crops to the segments' extent: the file's grid starts at voxel (i, j, k) = (4, 5, 2).
    sub_origin = grid.ijk_to_lps_points([[4, 5, 2]])[0]
    layers = np.zeros((2, 9, 8, 7), dtype=np.uint8)  # (layer, i, j, k)
    layers[0, 1:8, 1:7, 1:6] = 1  # "LV Myocardium" on layer 0
    layers[1, 2:5, 2:4, 2:4] = 1  # "Infarct (LGE)" overlapping, on layer 1
    layers[0, 0, 0, 0] = 2  # "Lung" (unrecognised) shares layer 0
    header = _hand_drawn_header(sub_origin, grid.spacing, layers,
                                [("Segment_1", "LV Myocardium", 0, 1), ("Segment_2", "Infarct (LGE)", 1, 1),
                                 ("Segment_3", "Lung", 0, 2)])
    path = tmp_path / "drawn.seg.nrrd"
    nrrd.write(str(path), layers, header)
    codes, warnings = read_label_codes(path, grid)
    assert not any("resampled" in w for w in warnings)  # a voxel-aligned crop is pasted exactly
    assert any("Lung" in w for w in warnings)
    expected = np.zeros(grid.shape, dtype=np.uint8)
    expected[2 + 1:2 + 6, 5 + 1:5 + 7, 4 + 1:4 + 8] = L.MYOCARDIUM
    expected[2 + 2:2 + 4, 5 + 2:5 + 4, 4 + 2:4 + 5] = L.SCAR
    np.testing.assert_array_equal(codes, expected)


def test_real_slicer_file_from_slicerio_lands_on_its_reference_image(tmp_path):
    """slicerio ships a segmentation saved by Slicer for its CT volume: renamed, it is a myocardium mask."""
    ct = slicerio.get_testdata_file("CTChest4.nrrd")
    seg_file = slicerio.get_testdata_file("Segmentation.seg.nrrd")
    vol = read_volume(ct)
    seg = slicerio.read_segmentation(seg_file)
    truth = slicerio.segment_mask(seg, "ribs").transpose(2, 1, 0)
    text = Path(seg_file).read_bytes().replace(b"Segment0_Name:=ribs", b"Segment0_Name:=myocardium")
    (tmp_path / "hand.seg.nrrd").write_bytes(text)
    codes, warnings = read_label_codes(tmp_path / "hand.seg.nrrd", vol.grid)
    assert not any("resampled" in w for w in warnings)
    np.testing.assert_array_equal(codes == L.MYOCARDIUM, truth)


def test_segment_names_are_recognised():
    assert L.segment_for_name("LV Myocardium").id == "myocardium"
    assert L.segment_for_name("Scar").id == "scar"
    assert L.segment_for_name("infarct core").id == "scar"
    assert L.segment_for_name("MVO").id == "mvo"
    assert L.segment_for_name("Grey zone").id == "grayzone"
    assert L.segment_for_name("LV blood pool").id == "bloodpool"
    assert L.segment_for_name("Liver") is None

"""DGGAN (depth-image guided GAN) for 3D hand pose from RGB: the GAN's networks, the depth
regulariser, the image pool, the GAN loss and the staged model (one network per file)."""
from poseforge.models.dggan.depth_regularizer import DepthRegularizer
from poseforge.models.dggan.dggan import DGGAN
from poseforge.models.dggan.discriminator import PatchDiscriminator
from poseforge.models.dggan.gan_loss import GANLoss
from poseforge.models.dggan.generator import ResnetGenerator
from poseforge.models.dggan.image_pool import ImagePool

__all__ = ['DGGAN', 'DepthRegularizer', 'GANLoss', 'ImagePool', 'PatchDiscriminator',
           'ResnetGenerator']

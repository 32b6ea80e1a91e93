"""shipper"""
